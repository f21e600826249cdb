//! A server connection driven by a small language of inputs, commands and clock steps;
//! see [`ws_proto_fuzz::connection`].
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::Role;

fuzz_target!(|data: &[u8]| ws_proto_fuzz::connection(Role::Server, data));
