package masking

import (
	"reflect"
	"testing"
)

func TestBuiltInKGMSPEqualsConfigFile(t *testing.T) {
	c, err := Load("../../configs/masking/kgmsp.json")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, KGMSP()) {
		t.Fatalf("configs/masking/kgmsp.json %+v differs from KGMSP() %+v", c, KGMSP())
	}
	r, err := Load("../../configs/masking/random.json")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, Random()) {
		t.Fatalf("configs/masking/random.json %+v differs from Random() %+v", r, Random())
	}
}
