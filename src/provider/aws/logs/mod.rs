//! CloudWatch Logs kinds: log groups; one file per kind.

mod log_group;

use aws_sdk_cloudwatchlogs::Client;

kinds!(Client; log_group);
