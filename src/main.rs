//! The payrun binary, with mimalloc as its allocator.
//!
//! A plan allocates and frees hundreds of thousands of small values (Rhai's
//! maps and strings, JSON values): glibc's malloc and free were a seventh of
//! `payrun plan programs/payment.rhai`, and the first touches of its heap's
//! pages a tenth more. mimalloc, built without transparent huge pages so
//! the peak stays as glibc's, takes about a tenth off the payment plan and
//! off a 10,000-resource one (README, *Performance*).

use std::io::Write;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let code = payrun::run();
    // Everything `run` started has finished and every file it wrote is
    // closed; what is left at exit is the C library's atexit handlers, of
    // which mimalloc's collects every thread heap and hands its pages back
    // with ~60 madvise calls the kernel would reclaim at exit anyway (half
    // a millisecond of a 14 ms plan). Flush what std buffers and leave.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` takes no pointers and never returns. It differs from
    // `exit` only in skipping atexit handlers and C stdio, which payrun
    // does not write through; every thread `run` started has ended (scoped
    // threads joined, runtimes dropped, progress bars finished).
    unsafe { libc::_exit(code) }
}
