#!/bin/sh
# udhcpc event script for the slirp tests: configure the interface from the lease and record
# what the server offered in $LEASE_FILE (one key=value per line).
case "$1" in
    deconfig)
        ip -4 addr flush dev "$interface"
        ip link set "$interface" up
        ;;
    bound|renew)
        ip -4 addr flush dev "$interface"
        ip addr add "$ip/$mask" dev "$interface"
        if [ -n "$router" ]; then
            ip route replace default via "${router%% *}" dev "$interface"
        fi
        {
            echo "ip=$ip"
            echo "mask=$mask"
            echo "router=$router"
            echo "dns=$dns"
            echo "lease=$lease"
            echo "serverid=$serverid"
        } > "$LEASE_FILE"
        ;;
esac
exit 0
