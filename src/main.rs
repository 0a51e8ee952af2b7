//! The payrun binary, with mimalloc as its allocator.
//!
//! A plan allocates and frees hundreds of thousands of small values (Rhai's
//! maps and strings, JSON values): glibc's malloc and free were a seventh of
//! `payrun plan programs/payment.rhai`, and the first touches of its heap's
//! pages a tenth more. mimalloc, built without transparent huge pages so
//! the peak stays as glibc's, takes about a tenth off the payment plan and
//! off a 10,000-resource one (README, *Performance*).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(payrun::run());
}
