package payjs

// StringToSign exposes the text that Sign digests, for the vector tests
// of package payjs_test.
var StringToSign = stringToSign
