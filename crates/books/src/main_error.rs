//! The error a chapter's `main` returns: printed as its message, for a reader.

use std::error::Error;
use std::fmt;

/// The error type of a program's `main`. Rust prints the error `main` returns with `{:?}`,
/// which for a data set's error is a dump of its fields (`Download(AllMirrorsFailed { file:
/// ..., attempts: [...] })`); this one's `Debug` is the error's message, the text that says
/// what went wrong and what to do. Any error converts into it with `?`.
///
/// ```
/// use tapegrad_books::MainError;
///
/// fn main() -> Result<(), MainError> {
///     let n: u32 = "12".parse()?;
///     assert_eq!(n, 12);
///     Ok(())
/// }
/// # main().unwrap();
/// let e = MainError::from("--epochs takes a number, got 'x'");
/// assert_eq!(format!("{e:?}"), "--epochs takes a number, got 'x'");
/// ```
pub struct MainError(Box<dyn Error>);

impl<E: Into<Box<dyn Error>>> From<E> for MainError {
    fn from(error: E) -> Self {
        MainError(error.into())
    }
}

impl fmt::Debug for MainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tapegrad's errors carry their causes in their messages already.
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for MainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
