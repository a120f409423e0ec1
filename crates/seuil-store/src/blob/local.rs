pub struct LocalBlobs;
