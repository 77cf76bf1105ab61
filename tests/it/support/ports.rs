//! A loopback port nobody listens on yet, for a server a test starts (or
//! one it means to leave unanswered).

/// A free port on 127.0.0.1 (the probe listener is closed on return).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
