//! Secrets Manager kinds: secrets; one file per kind.

mod secret;

use aws_sdk_secretsmanager::Client;

kinds!(Client; secret);
