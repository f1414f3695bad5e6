//! `medic-demo-service`: a tiny HTTP service to try resurrection with, and
//! what the end-to-end tests kill and bring back. `GET /health` answers 200,
//! or 503 while the file named by `--health-file` says `unhealthy`.
//!
//! ```text
//! medic-demo-service --port 18080 [--pidfile PATH] [--health-file PATH]
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;

struct Args {
    port: u16,
    pidfile: Option<PathBuf>,
    health_file: Option<PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        pidfile: None,
        health_file: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => {
                let v = value()?;
                args.port = v
                    .parse()
                    .map_err(|_| format!("--port {v:?} is not a port"))?;
            }
            "--pidfile" => args.pidfile = Some(value()?.into()),
            "--health-file" => args.health_file = Some(value()?.into()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.port == 0 {
        return Err("--port is required".into());
    }
    Ok(args)
}

fn healthy(args: &Args) -> bool {
    args.health_file
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .is_none_or(|s| s.trim() != "unhealthy")
}

fn answer(mut stream: TcpStream, args: &Args) -> std::io::Result<()> {
    let mut line = String::new();
    BufReader::new(stream.try_clone()?).read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/health" if healthy(args) => ("200 OK", "ok".to_string()),
        "/health" => ("503 Service Unavailable", "unhealthy".to_string()),
        "/pid" => ("200 OK", std::process::id().to_string()),
        _ => ("404 Not Found", "not found".to_string()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("medic-demo-service: {e}");
            std::process::exit(2);
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", args.port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "medic-demo-service: cannot listen on 127.0.0.1:{}: {e}",
                args.port
            );
            std::process::exit(1);
        }
    };
    if let Some(p) = &args.pidfile
        && let Err(e) = std::fs::write(p, std::process::id().to_string())
    {
        eprintln!("medic-demo-service: cannot write {}: {e}", p.display());
        std::process::exit(1);
    }
    for stream in listener.incoming().flatten() {
        let _ = answer(stream, &args);
    }
}
