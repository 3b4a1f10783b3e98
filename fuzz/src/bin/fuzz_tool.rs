//! `fuzz_tool seeds DIR`: writes the seed corpus (hand-written and signed PDFs) into DIR.
//! `fuzz_tool run FILE...`: runs each file through the fuzz target without instrumentation and
//! prints how far it got; a panic shows the bug.
//! `fuzz_tool sign IN OUT`, `fuzz_tool verify FILE`: one step alone, for debugging.

use std::path::Path;

use pdf_sign_fuzz::{common, keys};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("seeds") if args.len() == 2 => {
            let dir = Path::new(&args[1]);
            std::fs::create_dir_all(dir).expect("create corpus dir");
            for (name, data) in common::seeds(Some(&keys().signer)) {
                std::fs::write(dir.join(format!("{name}.pdf")), data).expect("write seed");
            }
        }
        Some("run") => {
            for f in &args[1..] {
                let data = std::fs::read(f).expect("read input");
                let k = keys();
                let started = std::time::Instant::now();
                let outcome = common::exercise(&data, Some(&k.signer), &k.anchors);
                println!("{f}: {outcome:?} in {:?}", started.elapsed());
            }
        }
        Some("sign") if args.len() == 3 => {
            let data = std::fs::read(&args[1]).expect("read input");
            let mut out = Vec::new();
            let r = pdf_sign::sign(data, &mut out, &keys().signer, &common::sign_options());
            println!("{r:?}");
            std::fs::write(&args[2], out).expect("write output");
        }
        Some("verify") if args.len() == 2 => {
            let data = std::fs::read(&args[1]).expect("read input");
            let opts = pdf_sign::VerifyOptions {
                trust_anchors: keys().anchors.clone(),
                ..pdf_sign::VerifyOptions::default()
            };
            println!("{:#?}", pdf_sign::verify(data, &opts));
        }
        _ => {
            eprintln!("usage: fuzz_tool seeds DIR | run FILE... | sign IN OUT | verify FILE");
            std::process::exit(2);
        }
    }
}
