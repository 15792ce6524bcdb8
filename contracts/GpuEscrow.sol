// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @dev The three ERC-20 calls the escrow needs. Return values are checked leniently (see _call)
///      so tokens that return nothing (USDT-style) work too.
interface IERC20Minimal {
    function balanceOf(address account) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title GpuEscrow v2 - non-custodial escrow for peer-to-peer GPU rentals.
/// @notice One contract holds every rental's deposit, keyed by a bytes32 id chosen by the bot.
///
/// Life cycle:  deposit -> Funded -> start -> Active -> (endEarly | extend)* -> settle -> Settled
///              Funded -> cancel -> Cancelled (full refund)
///              Active (running, or ended less than disputeWindow ago) -> dispute -> Disputed
///              Disputed -> resolve (arbiter, before disputeTimeout) -> Resolved
///              Disputed -> settle (anyone, after disputeTimeout; pro rata on the frozen clock) -> Settled
///
/// Deadlines (no deposit can be stranded):
///   Funded:   operator/provider may cancel any time; the renter may cancel from depositedAt + startWindow.
///   Active:   anyone may settle from end + disputeWindow.
///   Disputed: anyone may settle from disputedAt + disputeTimeout.
///
/// Decisions:
///   - Bound deposits: a deposit carries the operator's EIP-712 signature over the whole quote
///     (id, renter = msg.sender, provider, token, amount, duration, this contract's feeBps, expiry).
///     Nobody else can fund an id the bot quoted to a renter (no front-running, no blocking an id
///     for 1 wei), and a deposit cannot disagree with its quote. Chosen over keying rentals by
///     keccak256(renter, id), which stops the blocking but still lets a deposit differ from the quote.
///   - Roles: operator (the bot: signs quotes, starts, refunds), arbiter (resolves disputes) and
///     admin (token allow-list) are three different accounts; the fee recipient is not the arbiter;
///     none of the three roles may be a renter or a provider. Only the operator starts the clock.
///   - Fee: feeBps is fixed at deploy (at most MAX_FEE_BPS) and copied into each rental. It is taken
///     from the provider's part only, on settle and on resolve; a cancel refunds the renter in full.
///   - Rounding: settle and resolve both round the provider's gross share down (toward the renter),
///     and the fee down (toward the provider); the three parts always sum to the deposit exactly.
///   - extend: extraAmount must equal extraDuration * amount / duration exactly (the division must
///     have no remainder), so the price per second never changes by rounding.
///   - Durations are at most maxDuration (fixed at deploy, < 2**64) and amounts at most 2**128-1, so
///     amount * elapsed cannot overflow and settle can never revert for arithmetic reasons. Every
///     refusal is a custom error (no arithmetic panics, whatever the inputs).
///   - Payouts are credited to `owed` and pulled with withdraw(token) or withdrawTo(token, to) (for
///     an account that cannot receive: a contract wallet, a blocklisted address).
///   - The only admin power is the token allow-list for NEW deposits and extends. Nobody can
///     move escrowed funds except by the rules above.
///   - Only plain ERC-20 tokens may be allow-listed. The balance check rejects a token that delivers
///     less than `amount` at deposit, but a fee too small to round above zero passes it, and a token
///     that charges its fee to the sender on the way out (or rebases) would leave the escrow owing
///     more than it holds: the allow-list is the only guard against such tokens.
contract GpuEscrow {
    enum Status {
        None,
        Funded,
        Active,
        Disputed,
        Settled,
        Cancelled,
        Resolved
    }

    struct Rental {
        address renter;
        uint64 depositedAt;
        uint16 feeBps;
        Status status;
        address provider;
        uint64 startedAt;
        address token;
        uint64 stoppedAt; // end of the clock: endEarly or the dispute freeze; 0 while running
        uint128 amount;
        uint64 duration;
        uint64 disputedAt;
    }

    /// @notice Everything fixed at deploy, in one read (the bot checks its configuration against it).
    struct Parameters {
        string version;
        address operator;
        address arbiter;
        address admin;
        address feeRecipient;
        uint256 feeBps;
        uint256 startWindow;
        uint256 disputeWindow;
        uint256 disputeTimeout;
        uint256 maxDuration;
    }

    string public constant VERSION = "2";
    uint256 public constant MAX_FEE_BPS = 1_000; // 10 %
    uint256 public constant BPS = 10_000;
    bytes32 public constant QUOTE_TYPEHASH = keccak256(
        "Quote(bytes32 id,address renter,address provider,address token,uint256 amount,uint256 duration,uint256 feeBps,uint256 expiry)"
    );
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    /// @dev secp256k1n / 2: a signature with a larger s is the malleable twin of a valid one.
    uint256 private constant MAX_S = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    address public immutable operator;
    address public immutable arbiter;
    address public immutable admin;
    address public immutable feeRecipient;
    uint256 public immutable feeBps;
    uint256 public immutable startWindow;
    uint256 public immutable disputeWindow;
    uint256 public immutable disputeTimeout;
    uint256 public immutable maxDuration;
    uint256 private immutable _deployChainId;
    bytes32 private immutable _deployDomainSeparator;

    mapping(address token => bool) public tokenAllowed;
    /// @notice What `account` can withdraw, per token (address(0) = native coin).
    mapping(address account => mapping(address token => uint256)) public owed;

    mapping(bytes32 id => Rental) private _rentals;
    uint256 private _lock = 1;

    event Deposited(
        bytes32 indexed id,
        address indexed renter,
        address indexed provider,
        address token,
        uint256 amount,
        uint256 duration,
        uint256 feeBps
    );
    event Started(bytes32 indexed id, address indexed by, uint256 startedAt);
    event Cancelled(bytes32 indexed id, address indexed by, uint256 refund);
    event EndedEarly(bytes32 indexed id, uint256 endedAt);
    event Extended(bytes32 indexed id, uint256 extraDuration, uint256 extraAmount, uint256 duration, uint256 amount);
    event Disputed(bytes32 indexed id, address indexed by, uint256 disputedAt);
    event Resolved(bytes32 indexed id, uint256 renterBps, uint256 renterPart, uint256 providerPart, uint256 fee);
    event Settled(bytes32 indexed id, uint256 renterPart, uint256 providerPart, uint256 fee);
    event Withdrawn(address indexed account, address indexed token, address to, uint256 amount);
    event TokenAllowed(address indexed token, bool allowed);

    error Unauthorized();
    error WrongStatus(Status status);
    error TooEarly();
    error TooLate();
    error IdUsed();
    error BadId();
    error BadParty();
    error BadAmount();
    error BadDuration();
    error BadValue();
    error TokenNotAllowed();
    error ShortDelivery(uint256 received, uint256 expected);
    error BadBps();
    error NothingOwed();
    error TransferFailed();
    error Reentrancy();
    error BadConfig();
    error BadRoles();
    error QuoteExpired();
    error BadSignature();

    modifier nonReentrant() {
        if (_lock != 1) revert Reentrancy();
        _lock = 2;
        _;
        _lock = 1;
    }

    constructor(
        address operator_,
        address arbiter_,
        address admin_,
        address feeRecipient_,
        uint256 feeBps_,
        uint256 startWindow_,
        uint256 disputeWindow_,
        uint256 disputeTimeout_,
        uint256 maxDuration_
    ) {
        if (
            operator_ == address(0) || arbiter_ == address(0) || admin_ == address(0) || feeRecipient_ == address(0)
                || operator_ == arbiter_ || operator_ == admin_ || arbiter_ == admin_ || feeRecipient_ == arbiter_
        ) revert BadRoles();
        if (
            feeBps_ > MAX_FEE_BPS || startWindow_ == 0 || disputeTimeout_ == 0 || maxDuration_ == 0
                || startWindow_ > type(uint64).max || disputeWindow_ > type(uint64).max
                || disputeTimeout_ > type(uint64).max || maxDuration_ > type(uint64).max
        ) revert BadConfig();
        operator = operator_;
        arbiter = arbiter_;
        admin = admin_;
        feeRecipient = feeRecipient_;
        feeBps = feeBps_;
        startWindow = startWindow_;
        disputeWindow = disputeWindow_;
        disputeTimeout = disputeTimeout_;
        maxDuration = maxDuration_;
        _deployChainId = block.chainid;
        _deployDomainSeparator = _buildDomainSeparator();
    }

    // ---------------------------------------------------------------- admin

    /// @notice Allow or forbid an ERC-20 for new deposits and extends. Existing rentals are unaffected.
    function setTokenAllowed(address token, bool allowed) external {
        if (msg.sender != admin) revert Unauthorized();
        if (token == address(0)) revert BadParty();
        tokenAllowed[token] = allowed;
        emit TokenAllowed(token, allowed);
    }

    // ---------------------------------------------------------------- renter

    /// @notice Fund rental `id` exactly as the operator quoted it to the caller: native coin (token 0,
    ///         msg.value == amount) or an allow-listed ERC-20 (approve first; msg.value must be 0).
    /// @param expiry the quote's last valid second is expiry - 1 (block.timestamp must be below it).
    /// @param signature the operator's 65-byte EIP-712 signature of the Quote (see quoteDigest).
    function deposit(
        bytes32 id,
        address provider,
        address token,
        uint256 amount,
        uint256 duration,
        uint256 expiry,
        bytes calldata signature
    ) external payable nonReentrant {
        if (id == bytes32(0)) revert BadId();
        if (_rentals[id].status != Status.None) revert IdUsed();
        if (block.timestamp >= expiry) revert QuoteExpired();
        if (provider == address(0) || provider == msg.sender || _isRole(msg.sender) || _isRole(provider)) {
            revert BadParty();
        }
        if (amount == 0 || amount > type(uint128).max) revert BadAmount();
        if (duration == 0 || duration > maxDuration) revert BadDuration();
        bytes32 digest = quoteDigest(id, msg.sender, provider, token, amount, duration, expiry);
        if (_recover(digest, signature) != operator) revert BadSignature();

        _rentals[id] = Rental({
            renter: msg.sender,
            depositedAt: uint64(block.timestamp),
            feeBps: uint16(feeBps),
            status: Status.Funded,
            provider: provider,
            startedAt: 0,
            token: token,
            stoppedAt: 0,
            amount: uint128(amount),
            duration: uint64(duration),
            disputedAt: 0
        });
        _pull(token, amount);
        emit Deposited(id, msg.sender, provider, token, amount, duration, feeBps);
    }

    /// @notice Stop the clock of a running rental; the renter pays only for the time used.
    function endEarly(bytes32 id) external nonReentrant {
        Rental storage r = _rentals[id];
        _requireRunning(r);
        if (msg.sender != r.renter) revert Unauthorized();
        r.stoppedAt = uint64(block.timestamp);
        emit EndedEarly(id, block.timestamp);
    }

    /// @notice Buy `extraDuration` more seconds of a running rental at the same price per second.
    function extend(bytes32 id, uint256 extraDuration, uint256 extraAmount) external payable nonReentrant {
        Rental storage r = _rentals[id];
        _requireRunning(r);
        if (msg.sender != r.renter) revert Unauthorized();
        uint256 duration = r.duration;
        uint256 amount = r.amount;
        // duration <= maxDuration always holds, so neither check below can underflow, and after them
        // extraDuration < 2**64 and extraAmount < 2**128: the products cannot overflow
        if (extraDuration == 0 || extraDuration > maxDuration - duration) revert BadDuration();
        if (extraAmount == 0 || extraAmount > type(uint128).max - amount) revert BadAmount();
        if (extraDuration * amount != extraAmount * duration) revert BadAmount();
        address token = r.token;
        r.duration = uint64(duration + extraDuration);
        r.amount = uint128(amount + extraAmount);
        _pull(token, extraAmount);
        emit Extended(id, extraDuration, extraAmount, duration + extraDuration, amount + extraAmount);
    }

    // ---------------------------------------------------------------- operator / provider

    /// @notice Start the rental clock, after SSH access was delivered and the GPU checked. Operator only:
    ///         a provider who could start would make an undelivered rental impossible to refund.
    function start(bytes32 id) external nonReentrant {
        if (msg.sender != operator) revert Unauthorized();
        Rental storage r = _rentals[id];
        if (r.status != Status.Funded) revert WrongStatus(r.status);
        if (block.timestamp >= uint256(r.depositedAt) + startWindow) revert TooLate();
        r.status = Status.Active;
        r.startedAt = uint64(block.timestamp);
        emit Started(id, msg.sender, block.timestamp);
    }

    /// @notice Refund a rental that never started, in full. Operator or provider: any time before
    ///         start. Renter: once the start deadline has passed (the way out when the bot is down).
    function cancel(bytes32 id) external nonReentrant {
        Rental storage r = _rentals[id];
        if (r.status != Status.Funded) revert WrongStatus(r.status);
        if (msg.sender == r.renter) {
            if (block.timestamp < uint256(r.depositedAt) + startWindow) revert TooEarly();
        } else if (msg.sender != operator && msg.sender != r.provider) {
            revert Unauthorized();
        }
        r.status = Status.Cancelled;
        uint256 amount = r.amount;
        owed[r.renter][r.token] += amount;
        emit Cancelled(id, msg.sender, amount);
    }

    // ---------------------------------------------------------------- disputes

    /// @notice Freeze the clock and ask the arbiter: renter or provider, while running or within
    ///         disputeWindow after the end.
    function dispute(bytes32 id) external nonReentrant {
        Rental storage r = _rentals[id];
        if (r.status != Status.Active) revert WrongStatus(r.status);
        if (msg.sender != r.renter && msg.sender != r.provider) revert Unauthorized();
        uint256 end = _end(r);
        if (block.timestamp >= end + disputeWindow) revert TooLate();
        if (r.stoppedAt == 0) r.stoppedAt = uint64(block.timestamp < end ? block.timestamp : end);
        r.status = Status.Disputed;
        r.disputedAt = uint64(block.timestamp);
        emit Disputed(id, msg.sender, block.timestamp);
    }

    /// @notice Split a disputed deposit: renterBps of it to the renter, the rest to the provider
    ///         minus the fee on the provider's part. Arbiter only, before the dispute times out.
    ///         Rounds like settle: the provider's gross share down, so an odd unit goes to the renter.
    function resolve(bytes32 id, uint256 renterBps) external nonReentrant {
        if (msg.sender != arbiter) revert Unauthorized();
        Rental storage r = _rentals[id];
        if (r.status != Status.Disputed) revert WrongStatus(r.status);
        if (block.timestamp >= uint256(r.disputedAt) + disputeTimeout) revert TooLate();
        if (renterBps > BPS) revert BadBps();
        uint256 amount = r.amount;
        uint256 providerGross = amount * (BPS - renterBps) / BPS;
        (uint256 providerPart, uint256 fee) = _pay(r, providerGross, amount);
        r.status = Status.Resolved;
        emit Resolved(id, renterBps, amount - providerGross, providerPart, fee);
    }

    // ---------------------------------------------------------------- settlement

    /// @notice Pay out pro rata. Anyone may call: after end + disputeWindow for an undisputed
    ///         rental, after disputedAt + disputeTimeout for an unanswered dispute.
    function settle(bytes32 id) external nonReentrant {
        Rental storage r = _rentals[id];
        Status s = r.status;
        if (s == Status.Active) {
            if (block.timestamp < _end(r) + disputeWindow) revert TooEarly();
        } else if (s == Status.Disputed) {
            if (block.timestamp < uint256(r.disputedAt) + disputeTimeout) revert TooEarly();
        } else {
            revert WrongStatus(s);
        }
        uint256 amount = r.amount;
        uint256 duration = r.duration;
        uint256 elapsed = _end(r) - r.startedAt;
        if (elapsed > duration) elapsed = duration;
        uint256 providerGross = amount * elapsed / duration;
        (uint256 providerPart, uint256 fee) = _pay(r, providerGross, amount);
        r.status = Status.Settled;
        emit Settled(id, amount - providerGross, providerPart, fee);
    }

    /// @notice Pull everything owed to the caller in `token` (address(0) = native coin).
    function withdraw(address token) external nonReentrant {
        _withdraw(token, msg.sender);
    }

    /// @notice Pull everything owed to the caller in `token` and send it to `to`: for an account that
    ///         cannot receive itself (a contract wallet without a receive function, a blocklisted one).
    function withdrawTo(address token, address to) external nonReentrant {
        if (to == address(0)) revert BadParty();
        _withdraw(token, to);
    }

    // ---------------------------------------------------------------- views

    /// @notice The contract's version ("2": signed quotes, operator-only start, withdrawTo, maxDuration).
    function version() external pure returns (string memory) {
        return VERSION;
    }

    /// @notice Every parameter fixed at deploy.
    function parameters() external view returns (Parameters memory) {
        return Parameters({
            version: VERSION,
            operator: operator,
            arbiter: arbiter,
            admin: admin,
            feeRecipient: feeRecipient,
            feeBps: feeBps,
            startWindow: startWindow,
            disputeWindow: disputeWindow,
            disputeTimeout: disputeTimeout,
            maxDuration: maxDuration
        });
    }

    /// @notice The EIP-712 domain separator (name "GpuEscrow", version "2", this chain, this contract).
    function domainSeparator() public view returns (bytes32) {
        return block.chainid == _deployChainId ? _deployDomainSeparator : _buildDomainSeparator();
    }

    /// @notice The digest the operator signs for a quote to `renter` (the fee is this contract's feeBps).
    function quoteDigest(
        bytes32 id,
        address renter,
        address provider,
        address token,
        uint256 amount,
        uint256 duration,
        uint256 expiry
    ) public view returns (bytes32) {
        bytes32 structHash =
            keccak256(abi.encode(QUOTE_TYPEHASH, id, renter, provider, token, amount, duration, feeBps, expiry));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    /// @notice A rental's full record (status None when unknown).
    function getRental(bytes32 id) external view returns (Rental memory) {
        return _rentals[id];
    }

    /// @notice When the rental clock stops (or stopped); 0 before start.
    function endOf(bytes32 id) external view returns (uint256) {
        Rental storage r = _rentals[id];
        return r.startedAt == 0 ? 0 : _end(r);
    }

    // ---------------------------------------------------------------- internals

    function _isRole(address account) private view returns (bool) {
        return account == operator || account == arbiter || account == admin;
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("GpuEscrow"), keccak256(bytes(VERSION)), block.chainid, address(this))
        );
    }

    /// @dev The signer of `digest`, or address(0) for a malformed or malleable signature.
    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) return address(0);
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > MAX_S || (v != 27 && v != 28)) return address(0);
        return ecrecover(digest, v, r, s);
    }

    function _end(Rental storage r) private view returns (uint256) {
        return r.stoppedAt != 0 ? r.stoppedAt : uint256(r.startedAt) + r.duration;
    }

    function _requireRunning(Rental storage r) private view {
        if (r.status != Status.Active) revert WrongStatus(r.status);
        if (r.stoppedAt != 0 || block.timestamp >= uint256(r.startedAt) + r.duration) revert TooLate();
    }

    /// @dev Credit providerGross (minus fee) to the provider, the fee to feeRecipient, and the rest of
    ///      `amount` to the renter. The three parts always sum to `amount` exactly.
    function _pay(Rental storage r, uint256 providerGross, uint256 amount)
        private
        returns (uint256 providerPart, uint256 fee)
    {
        fee = providerGross * r.feeBps / BPS;
        providerPart = providerGross - fee;
        address token = r.token;
        owed[r.renter][token] += amount - providerGross;
        owed[r.provider][token] += providerPart;
        owed[feeRecipient][token] += fee;
    }

    function _withdraw(address token, address to) private {
        uint256 amount = owed[msg.sender][token];
        if (amount == 0) revert NothingOwed();
        owed[msg.sender][token] = 0;
        emit Withdrawn(msg.sender, token, to, amount);
        if (token == address(0)) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            _call(token, abi.encodeCall(IERC20Minimal.transfer, (to, amount)));
        }
    }

    /// @dev Take `amount` from the caller: msg.value for the native coin, else transferFrom of an
    ///      allow-listed token, crediting only what actually arrived and rejecting any shortfall.
    function _pull(address token, uint256 amount) private {
        if (token == address(0)) {
            if (msg.value != amount) revert BadValue();
            return;
        }
        if (msg.value != 0) revert BadValue();
        if (!tokenAllowed[token]) revert TokenNotAllowed();
        uint256 before = IERC20Minimal(token).balanceOf(address(this));
        // The balance difference is the point (it catches fee-on-transfer tokens). `before` cannot go
        // stale through re-entry: every state-changing entry point of this contract is nonReentrant.
        // slither-disable-next-line reentrancy-balance
        _call(token, abi.encodeCall(IERC20Minimal.transferFrom, (msg.sender, address(this), amount)));
        uint256 received = IERC20Minimal(token).balanceOf(address(this)) - before;
        if (received != amount) revert ShortDelivery(received, amount);
    }

    /// @dev ERC-20 call that accepts "returns true" and "returns nothing", rejects everything else.
    function _call(address token, bytes memory data) private {
        if (token.code.length == 0) revert TransferFailed();
        (bool ok, bytes memory ret) = token.call(data);
        if (!ok || (ret.length != 0 && (ret.length != 32 || abi.decode(ret, (uint256)) != 1))) {
            revert TransferFailed();
        }
    }
}
