//! Integration tests: the real `carbon-patch` binary on product homes built in temporary
//! directories by the generators in `fixtures/gen`. One module per subject.

mod support;

mod apply;
mod archives;
mod cache;
mod crash;
mod drift;
mod errors;
mod filesystems;
mod hostile;
mod images;
mod json;
mod junit;
mod jvm;
mod kernels;
mod kill;
mod layout;
mod log_and_metadata;
mod names;
mod order;
mod pack;
mod plan;
mod properties;
mod recovery;
mod rollback;
mod status;
mod terminal;
mod trust;
mod verify;
