//! The one integration-test binary: runs the real `nmleaks` over temp trees and repositories.
//!
//! Every key here is built at run time from a seeded generator ([`nmleaks::testkeys`]), so the
//! repository itself holds no key and scans clean.

mod action;
mod api;
mod audit;
mod config;
mod decode;
mod git;
mod gitserver;
mod hooks;
mod hostile;
mod hostile_git;
mod html;
mod layers;
mod leaks;
mod messages;
mod push;
mod release;
mod remote;
mod sarif;
mod scan;
mod snapshots;
mod suppress;
mod util;
mod verify;
mod workflows;
