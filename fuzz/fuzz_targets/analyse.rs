//! Fuzzes a whole file's analysis (`prodready::frontends::analyse`): the first byte picks the
//! file's kind by its name, the rest is its text. No input may panic or abort.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prodready::frontends;

const PATHS: [&str; 6] = [
    "src/lib.rs",
    "deploy/app.yaml",
    "config.toml",
    "a.json",
    ".env",
    "README.md",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let path = PATHS[usize::from(pick) % PATHS.len()];
    let text = String::from_utf8_lossy(rest);
    frontends::on_parser_stack(|| {
        if let Err(incidents) = frontends::analyse(path, &text) {
            panic!("a step of {path}'s analysis panicked: {incidents}");
        }
    });
});
