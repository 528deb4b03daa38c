fn main() {
    std::process::exit(guard::cli::main());
}
