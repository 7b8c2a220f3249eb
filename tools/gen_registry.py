#!/usr/bin/env python3
"""Writes netbench/registry/registry.json: the datasets, classes, tasks and
generation fields of the Lens paper (Tables 4, 10, 11; Figure 4; Appendix C.1).

Class names the paper gives are used as given. Where the paper gives only a
count (the CrossPlatform app lists), the remaining names are deterministic
placeholders marked "placeholder": true. Class weights set the long-tail
imbalance of the synthetic generator and of nothing else.
Run: python3 tools/gen_registry.py > netbench/registry/registry.json
"""
import json, random

rng = random.Random(20241123)

def zipf(n, s=1.1, top=1000.0):
    return [round(top / (i + 1) ** s, 2) for i in range(n)]

datasets = []
tasks = []

# ISCX-VPN: Tasks 1-3. 16 apps from Figure 4, grouped into the 6 services.
vpn_apps = {
    "aim": "chat", "icq": "chat", "hangout": "chat", "facebook": "chat", "skype": "voip",
    "voipbuster": "voip", "email": "email", "gmail": "email", "ftps": "file", "sftp": "file",
    "scp": "file", "torrent": "p2p", "netflix": "streaming", "spotify": "streaming",
    "vimeo": "streaming", "youtube": "streaming",
}
services = ["chat", "email", "file", "p2p", "streaming", "voip"]
w = zipf(16, 0.9)
order = list(vpn_apps)
rng.shuffle(order)
classes = []
for i, app in enumerate(order):
    classes.append({"name": "vpn-" + app, "coarse": "vpn", "weight": w[i],
                    "labels": {"1": "vpn", "2": vpn_apps[app], "3": app}})
for i, svc in enumerate(services):
    classes.append({"name": "nonvpn-" + svc, "coarse": "nonvpn", "weight": round(w[i] * 0.8, 2),
                    "labels": {"1": "nonvpn"}})
datasets.append({"name": "ISCX-VPN", "gen_name": "VPN", "context": "It is VPN network traffic data",
                 "pretrain": 0.60, "finetune": 0.24, "classes": classes})
tasks += [
    {"id": 1, "dataset": "ISCX-VPN", "description": "VPN detection", "traffic": "VPN", "labels": ["vpn", "nonvpn"]},
    {"id": 2, "dataset": "ISCX-VPN", "description": "VPN Service detection", "traffic": "VPN", "labels": services},
    {"id": 3, "dataset": "ISCX-VPN", "description": "VPN application classification", "traffic": "VPN",
     "labels": sorted(vpn_apps)},
]

# ISCX-Tor: Task 4, 7 Tor services; plus non-Tor traffic for the coarse split.
tor = ["browsing", "chat", "audio", "video", "file", "mail", "voip"]
w = zipf(7, 0.8)
classes = [{"name": "tor-" + s, "coarse": "tor", "weight": w[i], "labels": {"4": s}} for i, s in enumerate(tor)]
classes += [{"name": "nontor-" + s, "coarse": "nontor", "weight": round(w[i] * 0.5, 2), "labels": {}} for i, s in enumerate(tor[:4])]
datasets.append({"name": "ISCX-Tor", "gen_name": "Tor", "context": "It is Tor network traffic data",
                 "pretrain": 0.60, "finetune": 0.24, "classes": classes})
tasks.append({"id": 4, "dataset": "ISCX-Tor", "description": "Tor service detection", "traffic": "Tor", "labels": tor})

# USTC-TFC2016: Task 5, 16 applications (benign and malware).
ustc_benign = ["bittorrent", "facetime", "ftp", "gmail", "mysql", "outlook", "skype", "weibo"]
ustc_mal = ["cridex", "geodo", "htbot", "miuref", "neris", "shifu", "virut", "zeus"]
w = zipf(16, 1.0)
allu = ustc_benign + ustc_mal
order = list(allu)
rng.shuffle(order)
classes = [{"name": a, "coarse": "benign" if a in ustc_benign else "malware", "weight": w[i], "labels": {"5": a}}
           for i, a in enumerate(order)]
datasets.append({"name": "USTC-TFC2016", "gen_name": "USTC-TFC2016", "context": "It is USTC-TFC2016 network traffic data",
                 "pretrain": 0.60, "finetune": 0.05, "classes": classes})
tasks.append({"id": 5, "dataset": "USTC-TFC2016", "description": "Application Classification", "traffic": "USTC-TFC2016",
              "labels": sorted(allu)})

# CrossPlatform: Tasks 6-9; the paper names the extension classes only.
vendors = {
    "china": ["baidu", "tencent", "alibaba", "netease", "sina", "jd", "meituan", "didi", "xiaomi", "huawei", "bilibili", "kuaishou", "ctrip", "dianping"],
    "india": ["flipkart", "paytm", "ola", "zomato", "swiggy", "hotstar", "jio", "myntra", "makemytrip", "hike", "sharechat", "dailyhunt"],
    "us": ["google", "facebook", "amazon", "microsoft", "snapchat", "spotify", "twitter", "uber", "yelp", "reddit", "pinterest", "netflix", "espn", "cnn"],
}
kinds = ["news", "video", "music", "maps", "mail", "shop", "pay", "chat", "game", "weather", "reader", "camera",
         "browser", "travel", "food", "bank", "fitness", "photos", "social", "sports"]

def cross(n_total, named, ios):
    names = []
    seen = set()
    for nm, country, cnt in named:
        names.append((nm, country, cnt, False))
        seen.add(nm)
    pool = [(c, v, k) for c in vendors for v in vendors[c] for k in kinds]
    rng.shuffle(pool)
    for c, v, k in pool:
        if len(names) >= n_total:
            break
        nm = f"{v}-{k}" if ios else f"com.{v}.{k}"
        if nm in seen:
            continue
        seen.add(nm)
        names.append((nm, c, None, True))
    w = zipf(n_total, 0.7, 140.0)
    rng.shuffle(w)
    out = []
    for i, (nm, c, cnt, ph) in enumerate(names):
        cl = {"name": nm, "coarse": "app", "weight": cnt if cnt else w[i], "country": c}
        if ph:
            cl["placeholder"] = True
        out.append(cl)
    return out

android_named = [("com.ifeng.news2", "china", 226), ("sohu.sohuvideo", "china", 200), ("xunlei.downloadprovider", "china", 190),
                 ("qiyi.video", "china", 150), ("youku.phone", "china", 150)]
ios_named = [("pocket-pool", "us", 416), ("aiqiyi", "china", 238), ("color-ballz", "us", 224), ("yy", "china", 206), ("youku", "china", 182)]
for ds, gen, n, named, app_task, country_task, ios, ft in [
        ("CrossPlatform-Android", "Android", 209, android_named, 6, 7, False, 0.15),
        ("CrossPlatform-iOS", "iOS", 196, ios_named, 8, 9, True, 0.26)]:
    cl = cross(n, named, ios)
    for c in cl:
        c["labels"] = {str(app_task): c["name"], str(country_task): c["country"]}
        del c["country"]
    datasets.append({"name": ds, "gen_name": gen, "context": f"It is {gen} application network traffic data",
                     "pretrain": 0.0, "finetune": ft, "classes": cl})
    tasks.append({"id": app_task, "dataset": ds, "description": "Application classification", "traffic": gen + " application",
                  "labels": [c["name"] for c in cl],
                  "extension": [nm for nm, _, _ in named]})
    tasks.append({"id": country_task, "dataset": ds, "description": "Country detection", "traffic": gen + " application",
                  "labels": ["china", "india", "us"]})

# CIC-DoHBrw-2020: Task 10, 5 DoH query methods.
doh = [("chrome", "benign", 320), ("firefox", "benign", 260), ("dns2tcp", "malicious", 900), ("dnscat2", "malicious", 150), ("iodine", "malicious", 240)]
classes = [{"name": n, "coarse": c, "weight": wt, "labels": {"10": n}} for n, c, wt in doh]
datasets.append({"name": "CIC-DoHBrw-2020", "gen_name": "DoH", "context": "It is DoH network traffic data",
                 "pretrain": 0.60, "finetune": 0.06, "classes": classes})
tasks.append({"id": 10, "dataset": "CIC-DoHBrw-2020", "description": "DoH query method classification", "traffic": "DoH",
              "labels": [n for n, _, _ in doh]})

# CIC-IoT-2023: Tasks 11 and 12 (Table 4's test counts set the long tail).
iot = [("DDoS", 11055), ("DoS", 1216), ("Mirai", 380), ("Recon", 120), ("Spoofing", 55), ("Web-based", 10), ("BruteForce", 5)]
classes = [{"name": "benign", "coarse": "benign", "weight": 300, "labels": {"11": "benign"}}]
classes += [{"name": n, "coarse": "malicious", "weight": wt, "labels": {"11": "malicious", "12": n}} for n, wt in iot]
datasets.append({"name": "CIC-IoT-2023", "gen_name": "IoT", "context": "It is IoT network traffic data",
                 "pretrain": 0.60, "finetune": 0.05, "classes": classes})
tasks.append({"id": 11, "dataset": "CIC-IoT-2023", "description": "IoT attack detection", "traffic": "IoT", "labels": ["benign", "malicious"]})
tasks.append({"id": 12, "dataset": "CIC-IoT-2023", "description": "IoT attack method detection", "traffic": "IoT",
              "labels": [n for n, _ in iot]})

tasks.sort(key=lambda t: t["id"])
generation = {
    "prompt": "Generate {field} for the {dataset} network traffic:",
    "fields": [
        {"name": "source ip", "key": "src_ip"},
        {"name": "destination ip", "key": "dst_ip"},
        {"name": "source port", "key": "src_port"},
        {"name": "destination port", "key": "dst_port"},
        {"name": "packet length", "key": "length"},
    ],
    "datasets": ["ISCX-VPN", "ISCX-Tor", "USTC-TFC2016", "CrossPlatform-Android", "CrossPlatform-iOS", "CIC-DoHBrw-2020", "CIC-IoT-2023"],
}
print(json.dumps({"datasets": datasets, "tasks": tasks, "generation": generation,
                  "task_context": "In {labels}, the {traffic} network traffic belong to:"}, indent=1))
