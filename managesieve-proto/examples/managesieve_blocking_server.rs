//! A minimal ManageSieve server over blocking `std::net` (a thread per connection): user
//! `alice` with password `secret`, scripts kept in memory, any script accepted (a real server
//! compiles it and says where it is wrong). No TLS: plaintext login, so loopback only.
//!
//! `cargo run -p mailwright-managesieve --example managesieve_blocking_server -- 127.0.0.1:4190`
//! then `sieve-connect --server 127.0.0.1 --port 4190 --user alice --clearchan --list`.
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use mailwright_managesieve::{Code, Config, Event, Response, ServerSession};

/// Each script's text, and the active one.
type Scripts = Arc<Mutex<(BTreeMap<String, Vec<u8>>, Option<String>)>>;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:4190".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {addr}");
    let scripts: Scripts = Arc::default();
    loop {
        let (stream, _) = listener.accept()?;
        let scripts = Arc::clone(&scripts);
        std::thread::spawn(move || serve(stream, scripts));
    }
}

fn serve(mut stream: TcpStream, scripts: Scripts) -> std::io::Result<()> {
    let mut config = Config::new("example", vec!["fileinto".into(), "vacation".into()]);
    config.starttls = false;
    config.allow_plaintext_auth = true;
    let mut session = ServerSession::new(config);
    let mut buf = vec![0; 64 * 1024];
    loop {
        while let Some(event) = session.poll_event() {
            answer(&mut session, event, &scripts);
        }
        while let Some(out) = session.poll_output() {
            stream.write_all(&out)?;
        }
        if session.is_closed() {
            return Ok(());
        }
        let room = buf.len().min(session.input_capacity());
        stream.set_read_timeout(Some(session.timeout()))?;
        match stream.read(&mut buf[..room]) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                session.handle_timeout();
            }
            Ok(0) => session.handle_eof(),
            Ok(n) => {
                if session.receive(&buf[..n]).is_err() {
                    return Ok(());
                }
            }
            Err(e) => return Err(e),
        }
    }
}

fn answer(session: &mut ServerSession, event: Event, scripts: &Scripts) {
    let mut guard = scripts.lock().unwrap_or_else(|e| e.into_inner());
    let (stored, active) = &mut *guard;
    let missing = || Response::No(Some(Code::NonExistent), "No such script".into());
    let done = match event {
        Event::StartTls => Ok(()),
        Event::Login(c) => session.auth_finish(match c.password.expose() == "secret" {
            true => Ok(c.username),
            false => Err(Response::no("Authentication failed")),
        }),
        Event::ListScripts => {
            let list: Vec<(String, bool)> = stored
                .keys()
                .map(|n| (n.clone(), active.as_ref() == Some(n)))
                .collect();
            session.answer_list(&list)
        }
        Event::GetScript { name } => match stored.get(&name) {
            Some(text) => session.answer_script(text),
            None => session.answer(missing()),
        },
        Event::PutScript { name, script } => {
            stored.insert(name, script.to_vec());
            session.answer(Response::ok("Stored"))
        }
        Event::CheckScript { .. } | Event::HaveSpace { .. } => session.answer(Response::ok("OK")),
        Event::SetActive { name } if name.is_empty() || stored.contains_key(&name) => {
            *active = (!name.is_empty()).then_some(name);
            session.answer(Response::ok("Active"))
        }
        Event::DeleteScript { name } if active.as_ref() == Some(&name) => session.answer(
            Response::No(Some(Code::Active), "Deactivate it first".into()),
        ),
        Event::DeleteScript { name } => match stored.remove(&name) {
            Some(_) => session.answer(Response::ok("Deleted")),
            None => session.answer(missing()),
        },
        Event::RenameScript { old, new } => match stored.remove(&old) {
            Some(text) => {
                stored.insert(new.clone(), text);
                if active.as_ref() == Some(&old) {
                    *active = Some(new);
                }
                session.answer(Response::ok("Renamed"))
            }
            None => session.answer(missing()),
        },
        Event::SetActive { .. } => session.answer(missing()),
    };
    if let Err(e) = done {
        eprintln!("an answer the session did not wait for: {e}");
    }
}
