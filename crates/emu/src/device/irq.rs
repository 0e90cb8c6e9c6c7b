//! Interrupt delivery: one notifier per MSI-X vector that a driver (or its interrupt thread)
//! can wait on, the emulator's stand-in for an eventfd bound to the vector.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// A counting notifier: `signal` adds one event, `wait` takes every pending event.
#[derive(Debug, Default)]
pub struct Notifier {
    pending: Mutex<u64>,
    cv: Condvar,
}

impl Notifier {
    /// Adds one event and wakes every waiter.
    pub fn signal(&self) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        *p += 1;
        self.cv.notify_all();
    }

    /// Takes the pending events without waiting (0 when none).
    pub fn take(&self) -> u64 {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *p)
    }

    /// Waits up to `timeout` for at least one event and takes them all; 0 on timeout.
    pub fn wait(&self, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        while *p == 0 {
            let now = Instant::now();
            if now >= deadline {
                return 0;
            }
            p = self
                .cv
                .wait_timeout(p, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        std::mem::take(&mut *p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn signal_wakes_waiter() {
        let n = Arc::new(Notifier::default());
        assert_eq!(n.wait(Duration::from_millis(1)), 0);
        let n2 = n.clone();
        let t = std::thread::spawn(move || n2.wait(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(10));
        n.signal();
        assert_eq!(t.join().unwrap(), 1);
        n.signal();
        n.signal();
        assert_eq!(n.take(), 2);
        assert_eq!(n.take(), 0);
    }
}
