//! What the commands print: tables, sizes, yes/no; and sizes as admins type them (parsed
//! where the accounts store, which takes them too, has it).

pub(super) use crate::accounts::{human_size, parse_size};

pub(super) fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// Prints `rows` as a table under `headers`, as a JSON array of objects (keys: the headers,
/// spaces as underscores) with `json`, or `empty` when there are none.
pub(super) fn print_list(headers: &[&str], rows: &[Vec<String>], json: bool, empty: &str) {
    if json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::Value::Object(
                    headers
                        .iter()
                        .zip(r)
                        .map(|(h, v)| (h.replace(' ', "_"), v.clone().into()))
                        .collect(),
                )
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else if rows.is_empty() {
        println!("{empty}");
    } else {
        print_table(headers, rows);
    }
}

/// Prints rows under a header, columns padded to their widest cell.
pub(super) fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
