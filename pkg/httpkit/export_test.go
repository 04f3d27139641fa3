package httpkit

// RequestHash is requestHash, for tests that claim a key as the middleware
// would.
var RequestHash = requestHash
