//! The OpenAPI 3.0 document at `/api/openapi.json`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::caller::reply;

/// The OpenAPI 3.0 description of these routes.
pub(super) async fn openapi() -> Response {
    let domain_param =
        json!([{"name": "domain", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let list = |what: &str| json!({"200": {"description": what, "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}, "401": {"description": "no valid bearer token"}});
    let created = |what: &str| json!({"201": {"description": what}, "400": {"description": "refused, with the reason"}, "401": {"description": "no valid bearer token"}, "403": {"description": "a read-only token, or not allowed"}});
    let address_params = json!([{"name": "domain", "in": "path", "required": true, "schema": {"type": "string"}},
                                {"name": "address", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let changed = |what: &str| json!({"200": {"description": what}, "400": {"description": "refused, with the reason"}, "401": {"description": "no valid bearer token"}, "403": {"description": "a read-only token, or not allowed"}, "404": {"description": "no such domain, address or message among yours"}});
    let body = |props: Value, required: Value| json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": props, "required": required}}}});
    let doc = json!({
        "openapi": "3.0.3",
        "info": {"title": "mailserver API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Domains, alias domains, mailboxes, aliases, the queue, the bans and the log of changes, as the web console manages them. Each token acts for one administrator (`mailserver token add`)."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/api/domains": {
                "get": {"summary": "The domains the token's admin manages", "responses": list("domains")},
                "post": {"summary": "Add a domain (global admins, write tokens)",
                         "requestBody": body(json!({"domain": {"type": "string"}}), json!(["domain"])),
                         "responses": created("the domain added")}
            },
            "/api/domains/{domain}/mailboxes": {
                "parameters": domain_param,
                "get": {"summary": "A domain's mailboxes", "responses": list("mailboxes")},
                "post": {"summary": "Add a mailbox (write tokens)",
                         "requestBody": body(json!({"local": {"type": "string"}, "password": {"type": "string", "minLength": crate::http::passwords::MIN_LENGTH}}), json!(["local", "password"])),
                         "responses": created("the mailbox added")}
            },
            "/api/domains/{domain}/aliases": {
                "parameters": domain_param,
                "get": {"summary": "A domain's aliases and forwardings", "responses": list("aliases")},
                "post": {"summary": "Add targets to an alias, making it if needed (write tokens; an empty local part is the catch-all)",
                         "requestBody": body(json!({"local": {"type": "string"}, "goto": {"type": "array", "items": {"type": "string"}}}), json!(["local", "goto"])),
                         "responses": created("the alias")}
            },
            "/api/domains/{domain}": {
                "parameters": domain_param,
                "patch": {"summary": "Change a domain (global admins, write tokens): active, quota (a size such as 2G, or none), limits (mailboxes and aliases: counts, 0 no limit, -1 none; max_quota: a size)",
                          "requestBody": body(json!({"active": {"type": "boolean"}, "quota": {"type": "string"},
                                                     "limits": {"type": "object", "properties": {"mailboxes": {"type": "integer", "minimum": -1}, "aliases": {"type": "integer", "minimum": -1}, "max_quota": {"type": "string"}}}}), json!([])),
                          "responses": changed("what was changed")},
                "delete": {"summary": "Remove a domain that has no mailboxes or aliases left (global admins, write tokens)", "responses": changed("the domain removed")}
            },
            "/api/domains/{domain}/mailboxes/{address}": {
                "parameters": address_params,
                "patch": {"summary": "Change a mailbox (write tokens): active, password, quota (a size, or none), pop3_policy (expunge, keep, seen, default)",
                          "requestBody": body(json!({"active": {"type": "boolean"}, "password": {"type": "string", "minLength": crate::http::passwords::MIN_LENGTH}, "quota": {"type": "string"}, "pop3_policy": {"type": "string", "enum": ["expunge", "keep", "seen", "default"]}}), json!([])),
                          "responses": changed("what was changed")},
                "delete": {"summary": "Remove a mailbox's account (write tokens); its mail stays on disk", "responses": changed("the mailbox removed, and where its mail is")}
            },
            "/api/domains/{domain}/aliases/{address}": {
                "parameters": address_params,
                "delete": {"summary": "Remove an alias's forwarding (write tokens; a mailbox's own address stays)", "responses": changed("the alias removed")}
            },
            "/api/domains/{domain}/alias-domains": {
                "parameters": domain_param,
                "get": {"summary": "The domains that are aliases of this one", "responses": list("alias domains")},
                "post": {"summary": "Make another domain an alias of this one (global admins, write tokens)",
                         "requestBody": body(json!({"alias_domain": {"type": "string"}}), json!(["alias_domain"])),
                         "responses": created("the alias domain")}
            },
            "/api/domains/{domain}/alias-domains/{alias}": {
                "parameters": [{"name": "domain", "in": "path", "required": true, "schema": {"type": "string"}},
                               {"name": "alias", "in": "path", "required": true, "schema": {"type": "string"}}],
                "delete": {"summary": "Remove an alias domain (global admins, write tokens)", "responses": changed("the alias domain removed")}
            },
            "/api/queue": {
                "get": {"summary": "The outbound queue (global admins)", "responses": list("queued messages")}
            },
            "/api/queue/flush": {
                "post": {"summary": "Try every message not on hold now (global admins, write tokens)", "responses": changed("how many are due")}
            },
            "/api/queue/{id}/{action}": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                               {"name": "action", "in": "path", "required": true, "schema": {"type": "string", "enum": ["retry", "hold", "release", "remove"]}}],
                "post": {"summary": "Act on a queued message (global admins, write tokens); remove drops it undelivered, without a bounce", "responses": changed("the action done")}
            },
            "/api/bans": {
                "get": {"summary": "The bans in force (global admins)", "responses": list("bans")},
                "post": {"summary": "Ban an address or network from every listener (global admins, write tokens; seconds: [guard] ban_time when left out)",
                         "requestBody": body(json!({"network": {"type": "string"}, "seconds": {"type": "integer", "minimum": 1}, "reason": {"type": "string"}}), json!(["network"])),
                         "responses": created("the ban")}
            },
            "/api/bans/{network}": {
                "parameters": [{"name": "network", "in": "path", "required": true, "description": "an address, or a network with its / written %2F", "schema": {"type": "string"}}],
                "delete": {"summary": "Lift the bans on a network, or the one that holds an address (global admins, write tokens)", "responses": changed("the networks whose bans were lifted")}
            },
            "/api/log": {
                "get": {"summary": "The last changes made in the console and through the API, newest first (a domain admin's: their domains')", "responses": list("changes")}
            }
        }
    });
    reply(StatusCode::OK, &doc)
}
