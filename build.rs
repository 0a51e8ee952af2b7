//! Links the payrun binary as a position-dependent executable: a PIE's
//! hundreds of thousands of relative relocations (its vtables and static
//! tables, more with the unoptimised SDK crates) are applied at every
//! start, which for a 30 ms `payrun plan` was a sixth of its time and
//! 8 MiB of touched pages. Only the binaries change; no crate is built
//! differently.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=build.rs");
}
