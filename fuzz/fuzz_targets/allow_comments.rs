//! Fuzzes the allow-comments front end (`prodready::frontends::allow_comments`): no input may panic or abort.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prodready::frontends;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    frontends::on_parser_stack(|| {
        frontends::allow_comments(&text);
    });
});
