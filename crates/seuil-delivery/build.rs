//! OpenH264's SIMD decoding is assembly built with `nasm`; without it the decoder still
//! builds, from C alone, and runs several times slower. Say so where a builder sees it.

fn main() {
    println!("cargo:rerun-if-env-changed=PATH");
    println!("cargo:rerun-if-env-changed=OPENH264_NO_ASM");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if !matches!(arch.as_str(), "x86" | "x86_64") || std::env::var_os("OPENH264_NO_ASM").is_some() {
        return;
    }
    let nasm = std::process::Command::new("nasm").arg("-v").output();
    if !nasm.is_ok_and(|out| out.status.success()) {
        println!(
            "cargo:warning=nasm is not installed: OpenH264 is built without its SIMD code and \
             decodes footage several times slower. Install nasm (apt-get install nasm) and \
             rebuild."
        );
    }
}
