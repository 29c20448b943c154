//! `scalar`: 200,000 scalar ops on one tape (`y = y * 1.0001 + 0.0001`, 100,000 times, from
//! `x = 1`), one backward, `dy/dx` in f64. Measures what recording and differentiating one op
//! costs.

use tapegrad::autograd::{scalar, Tape};

use crate::common::{print_result, Timer};

const N: usize = 100_000;

pub fn run() {
    let timer = Timer::start();
    let tape = Tape::<f64>::new();
    let x = tape.var(scalar(1.0));
    let mut y = x;
    for _ in 0..N {
        y = y * 1.0001 + 0.0001;
    }
    let grads = tape.backward(y);
    let g = grads.get(x).expect("x has a gradient")[[]];
    let secs = timer.stop();
    eprintln!("y {:.6}", y.item());
    // Dropping the graph is not timed.
    drop(grads);
    drop(tape);
    print_result("scalar", secs, g);
}
