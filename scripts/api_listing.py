"""Prints a crate's public API, one sorted line per item, from rustdoc's JSON output."""
import json
import sys

doc = json.load(open(sys.argv[1]))
index = doc["index"]
lines = set()


def ty(t):
    """A type as Rust writes it (the shapes our APIs use)."""
    if t is None:
        return "()"
    (kind, v), = t.items()
    if kind == "primitive":
        return v
    if kind == "generic":
        return v
    if kind == "resolved_path":
        args = v.get("args") or {}
        inner = ""
        if "angle_bracketed" in args:
            parts = [ty(a["type"]) if "type" in a else str(a) for a in args["angle_bracketed"]["args"]]
            inner = "<" + ", ".join(parts) + ">" if parts else ""
        return v["path"].split("::")[-1] + inner
    if kind == "borrowed_ref":
        return "&" + ("mut " if v["is_mutable"] else "") + ty(v["type"])
    if kind == "slice":
        return "[" + ty(v) + "]"
    if kind == "array":
        return f"[{ty(v['type'])}; {v['len']}]"
    if kind == "tuple":
        return "(" + ", ".join(ty(x) for x in v) + ")"
    if kind == "impl_trait":
        return "impl " + " + ".join(b["trait_bound"]["trait"]["path"].split("::")[-1]
                                    for b in v if "trait_bound" in b)
    if kind == "qualified_path":
        return f"<{ty(v['self_type'])}>::{v['name']}"
    if kind == "dyn_trait":
        return "dyn " + " + ".join(t["trait"]["path"].split("::")[-1] for t in v["traits"])
    if kind == "function_pointer":
        return "fn(..)"
    return kind


def sig(f):
    s = f["sig"]
    args = ", ".join(n if n == "self" else f"{n}: {ty(t)}" for n, t in s["inputs"])
    out = "" if s["output"] is None else " -> " + ty(s["output"])
    return f"({args}){out}"


def hidden(item):
    return any("doc(hidden)" in str(a) for a in item.get("attrs", []))


def walk(item_id, path):
    item = index.get(str(item_id))
    if item is None or hidden(item):
        return
    (kind, v), = item["inner"].items()
    name = item.get("name")
    here = f"{path}::{name}" if name else path
    if kind == "module":
        for i in v["items"]:
            walk(i, here if path else item["name"])
    elif kind == "use":
        target = v.get("id")
        if target is not None and str(target) in index and not v["is_glob"]:
            inner = dict(index[str(target)])
            inner["name"] = v["name"]
            index[f"use-{target}-{path}"] = inner
            walk(f"use-{target}-{path}", path)
        else:
            lines.add(f"{path}::{v['name']} use {v['source']}")
    elif kind == "struct":
        lines.add(f"{here} struct")
        fields = v["kind"].get("plain", {}).get("fields", []) if isinstance(v["kind"], dict) else []
        for fid in fields:
            f = index[str(fid)]
            if f.get("visibility") == "public":
                lines.add(f"{here}.{f['name']}: {ty(f['inner']['struct_field'])}")
        if isinstance(v["kind"], dict) and "tuple" in v["kind"]:
            n = sum(1 for x in v["kind"]["tuple"] if x is not None)
            lines.add(f"{here} tuple struct, {n} public fields")
        impls(v["impls"], here)
    elif kind == "enum":
        lines.add(f"{here} enum")
        for vid in v["variants"]:
            var = index[str(vid)]
            vk = var["inner"]["variant"]["kind"]
            if vk == "plain":
                lines.add(f"{here}::{var['name']}")
            elif "tuple" in vk:
                tys = [ty(index[str(x)]["inner"]["struct_field"]) for x in vk["tuple"] if x is not None]
                lines.add(f"{here}::{var['name']}({', '.join(tys)})")
            else:
                for fid in vk["struct"]["fields"]:
                    f = index[str(fid)]
                    lines.add(f"{here}::{var['name']}.{f['name']}: {ty(f['inner']['struct_field'])}")
        impls(v["impls"], here)
    elif kind == "function":
        lines.add(f"{here} fn{sig(v)}")
    elif kind in ("constant", "static"):
        lines.add(f"{here} {kind}: {ty(v.get('type'))}")
    elif kind == "type_alias":
        lines.add(f"{here} type = {ty(v['type'])}")
    else:
        lines.add(f"{here} {kind}")


def impls(ids, here):
    for iid in ids:
        imp = index[str(iid)]["inner"]["impl"]
        if imp.get("is_synthetic") or imp.get("blanket_impl") is not None:
            continue
        if imp["trait"] is not None:
            lines.add(f"{here} impl {imp['trait']['path'].split('::')[-1]}")
            continue
        for mid in imp["items"]:
            m = index[str(mid)]
            if m.get("visibility") != "public" or hidden(m):
                continue
            (mk, mv), = m["inner"].items()
            if mk == "function":
                lines.add(f"{here}::{m['name']} fn{sig(mv)}")
            elif mk == "assoc_const":
                lines.add(f"{here}::{m['name']} const")


walk(doc["root"], "")
print("\n".join(sorted(lines)))
