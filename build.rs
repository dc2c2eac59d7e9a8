//! Embeds every `rules/*.toml` into the binary and generates the `Code` constants from their
//! file names, so that adding a rule never touches a Rust list and a misspelt code does not
//! compile.
use std::{env, fs, path::Path};

fn main() {
    let rules_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    println!("cargo:rerun-if-changed={}", rules_dir.display());
    let mut files: Vec<_> = fs::read_dir(&rules_dir)
        .expect("rules/ directory")
        .map(|e| e.expect("rules/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut embedded = String::from("pub static RULE_FILES: &[(&str, &str)] = &[\n");
    let mut codes = Vec::new();
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_string_lossy();
        embedded.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
        // `tests/registry.rs` checks that the file name's code is the rule's own.
        let code = name.split('-').next().unwrap_or_default().to_string();
        assert!(
            code.len() == 6
                && code[..3].bytes().all(|b| b.is_ascii_uppercase())
                && code[3..].bytes().all(|b| b.is_ascii_digit()),
            "rules/{name}: a rule file is named <CODE>-<name>.toml, its code like RES001"
        );
        codes.push(code);
    }
    embedded.push_str("];\n");
    let out = Path::new(&env::var("OUT_DIR").unwrap()).to_path_buf();
    fs::write(out.join("rule_files.rs"), embedded).expect("write rule_files.rs");
    fs::write(out.join("codes.rs"), code_constants(&codes)).expect("write codes.rs");
}

/// `impl Code { pub const RES001: Code = Code(n); ... }`, `n` the rule's place in code order.
fn code_constants(codes: &[String]) -> String {
    let mut out = String::from("impl Code {\n");
    for (index, code) in codes.iter().enumerate() {
        out.push_str(&format!("    pub const {code}: Code = Code({index});\n"));
    }
    out.push_str(&format!(
        "    /// Every rule's code, in code order.\n    pub const ALL: [Code; {n}] = [{all}];\n    const TEXT: [&'static str; {n}] = [{text}];\n}}\n",
        n = codes.len(),
        all = codes
            .iter()
            .map(|c| format!("Code::{c}"))
            .collect::<Vec<_>>()
            .join(", "),
        text = codes
            .iter()
            .map(|c| format!("{c:?}"))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    out
}
