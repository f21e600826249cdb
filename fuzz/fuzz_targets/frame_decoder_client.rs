//! A client connection reading arbitrary bytes in arbitrary pieces; see
//! [`ws_proto_fuzz::frame_decoder`].
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::Role;

fuzz_target!(|data: &[u8]| ws_proto_fuzz::frame_decoder(Role::Client, data));
