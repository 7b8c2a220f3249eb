//go:build !unix

package main

// freezeSelf blocks forever where SIGSTOP does not exist.
func freezeSelf() { select {} }
