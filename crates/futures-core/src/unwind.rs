//! Catching panics: tasks and callbacks run under `catch_unwind` here, and a
//! panic becomes data (its message), never an unwinding worker.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The message of a panic payload (what `catch_unwind` returns), as `std`'s
/// default hook prints it: the `&str` or `String` the panic carried, or
/// `"<non-string panic payload>"`. For executors that catch panics
/// themselves (the process pool's workers do).
///
/// # Examples
///
/// ```
/// let payload = std::panic::catch_unwind(|| panic!("bad input {}", 7)).unwrap_err();
/// assert_eq!(concurrent_futures_core::panic_message(payload.as_ref()), "bad input 7");
/// ```
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Runs `f`, turning a panic into its message.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(p.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_payloads() {
        assert_eq!(catch(|| panic!("static")).unwrap_err(), "static");
        assert_eq!(catch(|| panic!("{}", 42)).unwrap_err(), "42");
        assert_eq!(
            catch(|| std::panic::panic_any(7u8)).unwrap_err(),
            "<non-string panic payload>"
        );
        assert_eq!(catch(|| 5).unwrap(), 5);
    }
}
