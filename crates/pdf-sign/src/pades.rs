//! PAdES baseline levels as one call: the signature (B-B, or B-T with a signature timestamp),
//! then for B-LT the validation data (DSS), and for B-LTA a document timestamp followed by the
//! validation data of the timestamp's own chain. Each step is an incremental update over the
//! previous one; the intermediate revisions go to a [`Scratch`] (temporary files, memory) and
//! only the last step writes to the caller's output, so a failure leaves that output untouched.

use std::io::Write;

use crate::error::{PdfError, Result};
use crate::keys::Signer;
use crate::ltv::{self, RevocationTransport, TsaTransport};
use crate::sign::{self, SignOptions, SignReport};
use crate::source::Source;

/// The PAdES baseline levels (ETSI EN 319 142-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The CMS signature alone.
    BB,
    /// With a timestamp on the signature.
    BT,
    /// B-T with the certificates and revocation data to validate it later (the DSS).
    BLT,
    /// B-LT with a document timestamp over everything, and the DSS for its chain.
    BLTA,
}

impl Level {
    /// `B-B`, `B-T`, `B-LT` or `B-LTA`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "B-B" => Ok(Level::BB),
            "B-T" => Ok(Level::BT),
            "B-LT" => Ok(Level::BLT),
            "B-LTA" => Ok(Level::BLTA),
            other => Err(PdfError::Invalid(format!(
                "level {other:?} (use B-B, B-T, B-LT or B-LTA)"
            ))),
        }
    }

    /// The incremental updates this level takes, in order.
    fn steps(self) -> &'static [Step] {
        match self {
            Level::BB | Level::BT => &[Step::Sign],
            Level::BLT => &[Step::Sign, Step::Dss],
            // Validators take revocation data only when it was issued after the timestamp it
            // serves, so the document timestamp's chain gets its own, later, DSS update.
            Level::BLTA => &[Step::Sign, Step::Dss, Step::DocTimestamp, Step::Dss],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Sign,
    Dss,
    DocTimestamp,
}

/// Where the intermediate revisions of a multi-step signature are kept.
pub trait Scratch {
    /// A finished intermediate revision, read by the next step.
    type Stage: Source;
    /// An intermediate revision being written.
    type Writer: Write;
    /// A new place to write the next revision.
    fn create(&mut self) -> Result<Self::Writer>;
    /// The revision written through `writer`, readable.
    fn finish(&mut self, writer: Self::Writer) -> Result<Self::Stage>;
}

/// Intermediate revisions in memory (for callers that hold the whole file anyway).
#[derive(Debug, Default)]
pub struct MemoryScratch;

impl Scratch for MemoryScratch {
    type Stage = Vec<u8>;
    type Writer = Vec<u8>;

    fn create(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }

    fn finish(&mut self, writer: Vec<u8>) -> Result<Vec<u8>> {
        Ok(writer)
    }
}

/// What the signature needs besides the document.
#[derive(Clone, Copy)]
pub struct Services<'a> {
    /// The timestamp authority; needed from B-T up.
    pub tsa: Option<&'a dyn TsaTransport>,
    /// Where OCSP responses and CRLs come from; used from B-LT up.
    pub revocation: &'a dyn RevocationTransport,
}

impl std::fmt::Debug for Services<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("tsa", &self.tsa.is_some())
            .finish_non_exhaustive()
    }
}

/// Signs `src` at `level` and writes the finished file to `out`; returns the signature's report.
pub fn sign_at_level<S: Source, W: Write, X: Scratch>(
    src: S,
    out: W,
    scratch: &mut X,
    signer: &dyn Signer,
    opts: &SignOptions,
    level: Level,
    services: &Services<'_>,
) -> Result<SignReport> {
    if level != Level::BB && services.tsa.is_none() {
        return Err(PdfError::Invalid(
            "a timestamp authority is needed from B-T up".into(),
        ));
    }
    let hash = opts.hash.unwrap_or_else(|| signer.default_hash());
    let steps = level.steps();
    let mut out = Some(out);
    let mut report = None;
    let mut stage: Option<X::Stage> = None;
    for (i, step) in steps.iter().enumerate() {
        let run = |out: &mut dyn Write| -> Result<Option<SignReport>> {
            let src: &dyn Source = match &stage {
                Some(s) => s,
                None => &src,
            };
            match (step, services.tsa) {
                (Step::Sign, Some(tsa)) if level != Level::BB => {
                    sign::sign_timestamped(src, out, signer, opts, tsa).map(Some)
                }
                (Step::Sign, _) => sign::sign(src, out, signer, opts).map(Some),
                (Step::Dss, _) => {
                    ltv::add_dss(src, out, services.revocation, &[], &Default::default())
                        .map(|()| None)
                }
                (Step::DocTimestamp, Some(tsa)) => {
                    sign::timestamp_document(src, out, tsa, hash).map(|_| None)
                }
                (Step::DocTimestamp, None) => Err(PdfError::Invalid(
                    "a document timestamp needs a timestamp authority".into(),
                )),
            }
        };
        let step_report = if i + 1 == steps.len() {
            let mut w = out
                .take()
                .ok_or_else(|| PdfError::Invalid("the output was already written".into()))?;
            let r = run(&mut w)?;
            w.flush()?;
            r
        } else {
            let mut w = scratch.create()?;
            let r = run(&mut w)?;
            w.flush()?;
            stage = Some(scratch.finish(w)?);
            r
        };
        report = report.or(step_report);
    }
    report.ok_or_else(|| PdfError::Invalid("no signature was made".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_take_their_steps_in_order() {
        assert_eq!(Level::parse("B-LTA").expect("level"), Level::BLTA);
        assert!(Level::parse("B-LTV").is_err());
        assert!(Level::parse("b-t").is_err());
        assert_eq!(Level::BB.steps(), [Step::Sign]);
        assert_eq!(Level::BT.steps(), [Step::Sign]);
        assert_eq!(Level::BLT.steps(), [Step::Sign, Step::Dss]);
        assert_eq!(
            Level::BLTA.steps(),
            [Step::Sign, Step::Dss, Step::DocTimestamp, Step::Dss]
        );
    }
}
