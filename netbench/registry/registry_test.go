package registry

import (
	"strings"
	"testing"
)

// Table 11's class counts, task by task.
var table11 = map[int]int{1: 2, 2: 6, 3: 16, 4: 7, 5: 16, 6: 209, 7: 3, 8: 196, 9: 3, 10: 5, 11: 2, 12: 7}

func TestTable11ClassCounts(t *testing.T) {
	r := Default()
	if len(r.Tasks) != 12 {
		t.Fatalf("%d tasks, want 12", len(r.Tasks))
	}
	for id, n := range table11 {
		task, err := r.Task(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(task.Labels) != n {
			t.Errorf("task %d (%s): %d classes, Table 11 says %d", id, task.Description, len(task.Labels), n)
		}
	}
	if len(r.Datasets) != 7 {
		t.Errorf("%d datasets, want 7", len(r.Datasets))
	}
}

func TestPaperNamedClassesPresent(t *testing.T) {
	r := Default()
	named := map[int][]string{
		3:  strings.Fields("aim email facebook ftps gmail hangout icq netflix scp sftp skype spotify torrent vimeo voipbuster youtube"),
		12: {"DDoS", "DoS", "Spoofing", "Web-based", "BruteForce"},
		6:  {"com.ifeng.news2", "sohu.sohuvideo", "xunlei.downloadprovider", "qiyi.video", "youku.phone"},
		8:  {"pocket-pool", "aiqiyi", "color-ballz", "yy", "youku"},
	}
	for id, names := range named {
		task, _ := r.Task(id)
		have := map[string]bool{}
		for _, l := range task.Labels {
			have[l] = true
		}
		for _, n := range names {
			if !have[n] {
				t.Errorf("task %d lacks class %q named in the paper", id, n)
			}
		}
	}
	t6, _ := r.Task(6)
	if strings.Join(t6.Extension, ",") != "com.ifeng.news2,sohu.sohuvideo,xunlei.downloadprovider,qiyi.video,youku.phone" {
		t.Errorf("task 6 extension order %v (Appendix C.1 adds them in this order)", t6.Extension)
	}
}

func TestContextsAndPrompts(t *testing.T) {
	r := Default()
	t3, _ := r.Task(3)
	want := "In aim email facebook ftps gmail hangout icq netflix scp sftp skype spotify torrent vimeo voipbuster youtube, the VPN network traffic belong to:"
	if got := r.Context(t3, t3.Labels); got != want {
		t.Errorf("task 3 context\n got %q\nwant %q (Figure 4)", got, want)
	}
	d, _ := r.Dataset("USTC-TFC2016")
	if got := r.Prompt(r.Generation.Fields[0], d); got != "Generate source ip for the USTC-TFC2016 network traffic:" {
		t.Errorf("prompt %q", got)
	}
	if len(r.Generation.Fields) != 5 {
		t.Errorf("%d generation fields, want 5", len(r.Generation.Fields))
	}
}

func TestPretrainContextsCarryNoFineLabels(t *testing.T) {
	r := Default()
	for _, d := range r.Datasets {
		for _, l := range r.FineLabels() {
			if len(l) > 3 && strings.Contains(strings.ToLower(d.Context), strings.ToLower(" "+l+" ")) {
				t.Errorf("dataset %s context %q names label %q", d.Name, d.Context, l)
			}
		}
	}
}

func TestBadRegistryRefused(t *testing.T) {
	bad := `{"datasets":[{"name":"A","classes":[{"name":"x","labels":{"1":"nope"}}]}],"tasks":[{"id":1,"dataset":"A","labels":["yes"]}]}`
	_, err := Parse([]byte(bad), "bad.json")
	if err == nil || !strings.Contains(err.Error(), "bad.json") || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("want an error naming the file and the bad label, got %v", err)
	}
	if _, _, err := Default().Resolve("ISCX-VPN/no-such-class"); err == nil {
		t.Fatal("unknown class resolved")
	}
}
