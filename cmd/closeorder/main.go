// Command closeorder is the payjs-close Lambda function's bootstrap.
package main

func main() {}
