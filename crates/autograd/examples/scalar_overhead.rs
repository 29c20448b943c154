//! Tape overhead: 200,000 scalar ops and one backward (the `scalar` benchmark workload).
use std::time::Instant;
use tapegrad_autograd::{scalar, Tape};

fn main() {
    for _ in 0..5 {
        let t0 = Instant::now();
        let tape = Tape::<f64>::new();
        let x = tape.var(scalar(1.0));
        let mut y = x;
        for _ in 0..100_000 {
            y = y * 1.0001 + 0.0001;
        }
        let g = tape.backward(y);
        let d = g.get(x).unwrap()[[]];
        let s = t0.elapsed().as_secs_f64();
        println!("seconds={s:.4} dy/dx={d}");
    }
}
