//! The harness itself: a server starts, answers, and is gone after drop.

use alb_canary_tests::Moto;

#[test]
fn moto_starts_on_loopback_and_stops_on_drop() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    assert!(endpoint.starts_with("http://127.0.0.1:"));
    let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    drop(moto);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens after drop"
    );
}
