//! Benchmark reference: reads and `syn::parse_file`s every `.rs` file under a directory, on a
//! rayon pool of the given size with the same 64 MiB stacks as prodready. What prodready would
//! pay if it parsed every Rust file. Prints counts to stdout; exit 0 even if some files fail to
//! parse (syn does not accept every file of a large corpus).
//!
//! Usage: syn-parse DIR [THREADS]   (THREADS: 0 or absent = one per CPU, like prodready)

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

const STACK: usize = 64 * 1024 * 1024;

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            collect(&path, out);
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: syn-parse DIR [THREADS]");
        std::process::exit(2);
    };
    let threads: usize = match args.next().map(|t| t.parse()) {
        None => 0,
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            eprintln!("syn-parse: THREADS: {e}");
            std::process::exit(2);
        }
    };
    let mut files = Vec::new();
    collect(Path::new(&dir), &mut files);
    files.sort();
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(STACK)
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let bytes = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    pool.install(|| {
        files.par_iter().for_each(|path| {
            let Ok(raw) = std::fs::read(path) else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            bytes.fetch_add(raw.len(), Ordering::Relaxed);
            let text = String::from_utf8_lossy(&raw);
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            if syn::parse_file(text).is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
            // span-locations keeps every parsed text per thread; release it as prodready does.
            proc_macro2::extra::invalidate_current_thread_spans();
        })
    });
    println!(
        "files {} bytes {} not_parsed {} threads {}",
        files.len(),
        bytes.into_inner(),
        failed.into_inner(),
        pool.current_num_threads()
    );
}
