//! KMS kinds: customer managed keys and their aliases; one file per kind.

mod alias;
mod key;

pub(crate) use key::KeyArgs;
pub(super) use key::customer_keys;

use aws_sdk_kms::Client;

kinds!(Client; key: complete | stack, alias);
