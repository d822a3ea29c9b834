//! Pre-deploy proofs on synthesized templates.
