package peer

import "slices"

// allRoutes lists every operation the API serves, feature by feature. A new operation goes into
// its feature's list; a new feature adds its list here.
func allRoutes() []route {
	return slices.Concat(coreRoutes(), datomRoutes(), fetchRoutes(), sessionRoutes(), blobRoutes(), doipRoutes(), assetRoutes(), encryptionRoutes(), dwnRoutes())
}
