//! KMS kinds: customer managed keys and their aliases; one file per kind.

mod alias;
mod key;

use aws_sdk_kms::Client;

kinds!(Client; key, alias);
