//! Secrets Manager kinds: secrets; one file per kind.

mod secret;

pub(crate) use secret::SecretArgs;

use aws_sdk_secretsmanager::Client;

kinds!(Client; secret: stack);
