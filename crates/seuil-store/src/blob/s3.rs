pub struct S3Blobs;
pub struct S3Config;
