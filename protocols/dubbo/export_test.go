package dubbo

// UseDubboGo makes the dubbo protocol's calls go through dubbo-go's
// generic client, the reference the differential tests compare this
// package's client with.
func UseDubboGo(o *Options) { o.dubboGo = true }
