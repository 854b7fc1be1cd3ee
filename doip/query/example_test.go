package query_test

import (
	"fmt"

	"github.com/datomspace/datomspace/doip/query"
)

func ExampleParse() {
	n, _ := query.Parse(`+type:Schema +/name:User`)
	fmt.Println(n)
	n, _ = query.Parse(`(hello OR world) AND NOT draft*`)
	fmt.Println(n)
	_, err := query.Parse(`name:(unclosed`)
	fmt.Println(err)
	// Output:
	// +type:Schema +/name:User
	// +(hello world) -draft*
	// query does not parse at position 5: unclosed (
}
