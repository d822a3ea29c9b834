//! Prints, as one JSON line, how long the process's first 32 random bytes from aws-lc took (its
//! DRBG is seeded then, with CPU jitter entropy unless built with AWS_LC_SYS_NO_JITTER_ENTROPY=1),
//! and the next 32: the seeding's cost is the difference. Lambda pays it at the first TLS
//! handshake of a cold start.

use std::time::Instant;

fn main() {
    let mut bytes = [0u8; 32];
    let started = Instant::now();
    aws_lc_rs::rand::fill(&mut bytes).expect("aws-lc gives random bytes");
    let first = started.elapsed();
    let started = Instant::now();
    aws_lc_rs::rand::fill(&mut bytes).expect("aws-lc gives random bytes");
    let second = started.elapsed();
    println!(
        "{{\"first_fill_us\":{},\"second_fill_us\":{}}}",
        first.as_micros(),
        second.as_micros()
    );
}
