//! CloudWatch Logs kinds: log groups; one file per kind.

mod log_group;

pub(crate) use log_group::LogGroupArgs;

use aws_sdk_cloudwatchlogs::Client;

kinds!(Client; log_group: complete | stack);
