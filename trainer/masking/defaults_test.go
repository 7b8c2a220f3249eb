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
}
