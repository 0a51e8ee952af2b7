//! S3 kinds: buckets; one file per kind.

mod bucket;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Builder, RequestChecksumCalculation, ResponseChecksumValidation};

use super::AwsSettings;

kinds!(Client; bucket: complete);

/// S3's client beyond the common configuration: an endpoint of its own (an
/// emulator) serves buckets by path, not by host name; checksums only where
/// the operation requires them.
pub(crate) fn configure(b: Builder, settings: &AwsSettings) -> Builder {
    b.force_path_style(settings.endpoint_url.is_some())
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
}
