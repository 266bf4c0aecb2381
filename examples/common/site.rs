//! A small web site served on loopback, for the crawling examples: pages link
//! to each other, a few links are broken (404), and some pages are slow, so
//! results complete out of order. Plain `std::net`; no setup needed.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// A running site; it serves until the process exits.
pub(crate) struct Site {
    addr: SocketAddr,
}

impl Site {
    /// Serves `pages` pages on 127.0.0.1 (a free port).
    pub(crate) fn start(pages: usize) -> io::Result<Site> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        thread::Builder::new().name("site".into()).spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let _ = serve(stream, pages);
                });
            }
        })?;
        Ok(Site { addr })
    }

    /// The address of page `n`.
    pub(crate) fn url(&self, n: usize) -> String {
        format!("http://{}/page/{n}", self.addr)
    }
}

/// Page `n` links to `2n+1`, `2n+2` (a tree) and back to 0; every seventh
/// page also links to a page that does not exist.
fn page(n: usize, pages: usize) -> Option<String> {
    if n >= pages {
        return None;
    }
    let mut body = format!("<html><title>page {n}</title><body>\n");
    for child in [2 * n + 1, 2 * n + 2, 0] {
        if child < pages {
            body += &format!("<a href=\"/page/{child}\">page {child}</a>\n");
        }
    }
    if n % 7 == 3 {
        body += &format!("<a href=\"/page/{}\">a broken link</a>\n", pages + n);
    }
    body += &"lorem ipsum ".repeat(50 + 13 * (n % 11));
    body += "</body></html>\n";
    Some(body)
}

fn serve(stream: TcpStream, pages: usize) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Read the rest of the header, so closing never resets an unread request.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let n: Option<usize> = path.strip_prefix("/page/").and_then(|s| s.parse().ok());
    // Some pages are slow, so completion order differs from submission order.
    if let Some(n) = n {
        thread::sleep(Duration::from_millis((n % 5) as u64 * 15));
    }
    let (status, body) = match n.and_then(|n| page(n, pages)) {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", "not found\n".to_string()),
    };
    let response = format!(
        "HTTP/1.0 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    (&stream).write_all(response.as_bytes())
}

/// Why a fetch failed.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// The connection failed.
    Io(io::Error),
    /// The server answered with this status line.
    Status(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Io(e) => write!(f, "connection failed: {e}"),
            FetchError::Status(s) => write!(f, "HTTP {s}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// `GET url` (an `http://host:port/path` address); returns the body.
pub(crate) fn fetch(url: &str) -> Result<String, FetchError> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(host).map_err(FetchError::Io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(FetchError::Io)?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(FetchError::Io)?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(FetchError::Io)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status_line = head.lines().next().unwrap_or("");
    let status = status_line.split_once(' ').map_or("", |(_, s)| s);
    if status.starts_with("200") {
        Ok(body.to_string())
    } else {
        Err(FetchError::Status(status.to_string()))
    }
}

/// The absolute addresses a page links to.
pub(crate) fn links(base: &str, body: &str) -> Vec<String> {
    let origin = base.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    body.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|href| format!("{origin}{href}"))
        .collect()
}
