fn main() {
    std::process::exit(payrun::run());
}
