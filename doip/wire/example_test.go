package wire_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/datomspace/datomspace/doip/wire"
)

// A DOIP 2.0 request as it goes on the wire: the request header as a JSON segment, the input as
// a bytes segment, and the empty segment that ends the message.
func ExampleWriter() {
	var buf bytes.Buffer
	w := wire.NewWriter(&buf)
	if err := w.JSON([]byte(`{"requestId":"1","targetId":"20.500/obj","operationId":"0.DOIP/Op.Update"}`)); err != nil {
		panic(err)
	}
	if err := w.Bytes([]byte("hello")); err != nil {
		panic(err)
	}
	if err := w.End(); err != nil { // End flushes
		panic(err)
	}
	fmt.Printf("%q\n", buf.String())
	// Output: "{\"requestId\":\"1\",\"targetId\":\"20.500/obj\",\"operationId\":\"0.DOIP/Op.Update\"}\n#\n@\n5\nhello\n#\n#\n"
}

// Reading DOIP 2.0 messages from a stream: the first segment is the header; a bytes segment is
// read as a stream, chunk by chunk.
func ExampleReader() {
	in := "{\"requestId\":7,\"targetId\":\"20.500/obj\",\"operationId\":\"0.DOIP/Op.Update\"}\n#\n" +
		"@\n6\nhello \n5\nworld\n#\n" +
		"#\n"
	r := wire.NewReader(bytes.NewReader([]byte(in)), wire.Limits{}) // zero limits: DefaultLimits
	for {
		msg, err := r.Next()
		if err == io.EOF {
			break // the stream ended between messages
		}
		if err != nil {
			panic(err)
		}
		seg, err := msg.NextSegment()
		if err != nil {
			panic(err)
		}
		text, err := seg.ReadJSON(0)
		if err != nil {
			panic(err)
		}
		req, err := wire.ParseRequest(text)
		if err != nil {
			panic(err)
		}
		fmt.Println(req.RequestID, req.TargetID, req.OperationID)
		for {
			seg, err := msg.NextSegment()
			if err == io.EOF {
				break // the empty segment that ends the message
			}
			if err != nil {
				panic(err)
			}
			b, err := io.ReadAll(seg)
			if err != nil {
				panic(err)
			}
			fmt.Printf("json=%v %q\n", seg.IsJSON(), b)
		}
	}
	// Output:
	// 7 20.500/obj 0.DOIP/Op.Update
	// json=false "hello world"
}

// A DOIP 2.1 message: the content (flags, parameters JSON, body) is split into envelope frames
// when it is longer than the frame size, and an Assembler joins the frames again.
func ExampleWriteMessage() {
	m := &wire.Message21{
		Flag:   wire.MsgRequest,
		Params: wire.Params{ID: "20.500/obj", Operation: "0.DOIP/Op.Retrieve"},
		Body:   []byte("a body"),
	}
	content, err := m.Encode()
	if err != nil {
		panic(err)
	}
	var stream bytes.Buffer
	if err := wire.WriteMessage(&stream, 7, content, 32); err != nil { // 32-byte frames
		panic(err)
	}

	var a wire.Assembler
	for {
		env, part, err := wire.ReadFrame(&stream, wire.DefaultMaxFrame)
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Printf("frame %d of %d, request %d, %d bytes\n", env.Sequence+1, env.Total, env.RequestID, env.ContentLength)
		whole, done, err := a.Add(env, part)
		if err != nil {
			panic(err)
		}
		if !done {
			continue
		}
		got, err := wire.DecodeMessage21(whole)
		if err != nil {
			panic(err)
		}
		fmt.Printf("request=%v %s %s %q\n", got.Flag&wire.MsgRequest != 0, got.Params.ID, got.Params.Operation, got.Body)
	}
	// Output:
	// frame 1 of 3, request 7, 32 bytes
	// frame 2 of 3, request 7, 32 bytes
	// frame 3 of 3, request 7, 6 bytes
	// request=true 20.500/obj 0.DOIP/Op.Retrieve "a body"
}
