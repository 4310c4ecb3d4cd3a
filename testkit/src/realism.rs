//! The realism layer for the control plane: a proxy between ktail and moto that behaves like
//! Lambda and IAM do on AWS where moto is kinder — every change there is instant and every call
//! that should wait succeeds at once. Each behaviour below names the AWS documentation it follows.
//!
//! - **IAM propagation** ("Changes that I make are not always immediately visible", IAM User
//!   Guide, <https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency>):
//!   for [`Settings::iam_propagation`] after CreateRole, CreateFunction with that role is refused
//!   with `InvalidParameterValueException: The role defined for the function cannot be assumed by
//!   Lambda.`; for as long after PutRolePolicy, CreateEventSourceMapping for a function with that
//!   role is refused with `InvalidParameterValueException: Cannot access stream …` (the messages
//!   Lambda sends; see also the CreateFunction and CreateEventSourceMapping API references, whose
//!   errors list InvalidParameterValueException).
//! - **Function states** ("Lambda function states", Lambda Developer Guide,
//!   <https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html>): a new function is
//!   `State: Pending` for [`Settings::function_pending`]; after UpdateFunctionCode or
//!   UpdateFunctionConfiguration its `LastUpdateStatus` is `InProgress` for
//!   [`Settings::update_in_progress`]. Meanwhile another update fails with
//!   `ResourceConflictException` (UpdateFunctionConfiguration API reference:
//!   <https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionConfiguration.html>).
//! - **Mapping states** (CreateEventSourceMapping / DeleteEventSourceMapping API references,
//!   <https://docs.aws.amazon.com/lambda/latest/api/API_DeleteEventSourceMapping.html>: "When you
//!   delete an event source mapping, it enters a Deleting state and might not be completely
//!   deleted for several seconds"): a new mapping is `Creating`, an updated one `Updating`, for
//!   [`Settings::mapping_transition`]; an update or delete meanwhile fails with
//!   `ResourceInUseException` ("you tried to update an event source mapping in the CREATING
//!   state"). A deleted mapping stays listed (GetEventSourceMapping, ListEventSourceMappings) as
//!   `Deleting` for as long; it can be neither updated nor deleted, and a new mapping for the same
//!   stream and function is refused with `ResourceConflictException`, as while any mapping of the
//!   pair exists.
//! - **IAM is global** ("AWS Identity and Access Management" is a global service: "IAM resources
//!   are global", <https://docs.aws.amazon.com/IAM/latest/UserGuide/intro-structure.html>): one
//!   role name names one role in every region of the account. moto already keeps one IAM per
//!   partition while its Lambda and Kinesis are per region, so running ktail with two `--region`s
//!   through one layer reproduces it; [`Realism::ktail_in`] does that.
//!
//! - **KMS-encrypted streams** ("Permissions to use user-generated KMS keys", Kinesis Developer
//!   Guide, <https://docs.aws.amazon.com/streams/latest/dev/permissions-user-key-KMS.html>: a
//!   consumer needs kms:Decrypt on the stream's key, "otherwise … reads from a stream will fail";
//!   GetRecords API reference, whose errors list KMSAccessDeniedException, KMSDisabledException,
//!   KMSNotFoundException …, HTTP 400): moto encrypts nothing and never refuses. The layer learns
//!   each stream's key from the StartStreamEncryption calls it forwards ([`Realism::encrypt`]
//!   sends one through it) and, for a key [`Realism::refuse_kms`] names, answers GetRecords on an
//!   iterator of that stream with the error, as Kinesis does when the caller may not use the key.
//!
//! - **Enhanced fan-out consumers** (RegisterStreamConsumer API reference,
//!   <https://docs.aws.amazon.com/kinesis/latest/APIReference/API_RegisterStreamConsumer.html>:
//!   a new consumer is `CREATING` before it is `ACTIVE`; "only 5 consumers can be created
//!   simultaneously … results in a LimitExceededException"): moto's consumers are ACTIVE at once.
//!   The layer shows each consumer registered through it as `CREATING` for
//!   [`Settings::consumer_creating`] (RegisterStreamConsumer, DescribeStreamConsumer,
//!   ListStreamConsumers). [`Realism::fail`] takes Kinesis operations too (a
//!   LimitExceededException on RegisterStreamConsumer).
//! - **A consumer as a mapping's event source** (CreateEventSourceMapping API reference,
//!   EventSourceArn: "Amazon Kinesis – The ARN of the data stream or a stream consumer"; Lambda
//!   Developer Guide, "Process Amazon Kinesis Data Streams records with Lambda"): moto accepts
//!   only a stream's ARN ("Invalid EventSourceArn"). The layer stands in: it hands moto the
//!   consumer's stream, and shows the consumer's ARN as the mapping's EventSourceArn in every
//!   answer about that mapping, as Lambda does. A mapping on a consumer that is not ACTIVE yet is
//!   refused with `InvalidParameterValueException` (the layer's wording: Lambda subscribes at
//!   once, and SubscribeToShard on a consumer that is not ACTIVE fails, SubscribeToShard API
//!   reference, ResourceInUseException).
//!
//! Faults that no documented timing produces can be added with [`Realism::fail`], and
//! [`Realism::calls`] counts the calls of each operation, so tests prove what ktail did by counts,
//! never by timing.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Emulator;
use crate::fault_proxy::{self, Call, Intercept};

/// How long each documented transition lasts in the layer. AWS gives no bound ("for several
/// seconds"); the defaults are short enough for tests and long enough that ktail must wait.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub iam_propagation: Duration,
    pub function_pending: Duration,
    pub update_in_progress: Duration,
    pub mapping_transition: Duration,
    pub consumer_creating: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            iam_propagation: Duration::from_secs(4),
            function_pending: Duration::from_secs(2),
            update_in_progress: Duration::from_secs(2),
            mapping_transition: Duration::from_secs(3),
            consumer_creating: Duration::from_secs(2),
        }
    }
}

pub struct Realism {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    layer: Arc<Layer>,
}

/// The layer in front of moto, with the default [`Settings`].
pub fn start(moto: &Emulator) -> Realism {
    start_with(moto, Settings::default())
}

pub fn start_with(moto: &Emulator, settings: Settings) -> Realism {
    let layer = Arc::new(Layer {
        settings,
        state: Mutex::default(),
    });
    let endpoint = fault_proxy::start_with(&moto.endpoint, layer.clone());
    Realism { endpoint, layer }
}

impl Realism {
    /// The real binary (see [`crate::ktail`]) talking to moto through the layer.
    pub fn ktail(&self) -> Command {
        let mut cmd = crate::ktail();
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint);
        cmd
    }

    /// [`Realism::ktail`] in another region of the same account: Lambda and Kinesis are that
    /// region's, IAM is the account's one.
    pub fn ktail_in(&self, region: &str) -> Command {
        let mut cmd = self.ktail();
        cmd.env("AWS_REGION", region);
        cmd
    }

    /// Answers the next `times` calls of `operation` (a Lambda, IAM or Kinesis operation name,
    /// e.g. "CreateFunction", "RegisterStreamConsumer") with HTTP `status` and the error
    /// `error_type: message`.
    pub fn fail(
        &self,
        operation: &str,
        times: usize,
        status: u16,
        error_type: &str,
        message: &str,
    ) {
        self.layer.lock().faults.push(Fault {
            operation: operation.to_owned(),
            left: times,
            status,
            body: error(error_type, message),
        });
    }

    /// Makes the mapping `uuid` report `result` as its LastProcessingResult, as Lambda does
    /// after its batches (`OK`, `PROBLEM: Function call failed`, …; the field of
    /// EventSourceMappingConfiguration in the Lambda API reference), which moto never sets.
    pub fn set_last_processing_result(&self, uuid: &str, result: &str) {
        self.layer
            .lock()
            .processing_results
            .insert(uuid.to_owned(), result.to_owned());
    }

    /// A Lambda client that sees moto through the layer, as ktail does (e.g. a mapping on a
    /// consumer, which moto itself holds on the consumer's stream).
    pub async fn lambda(&self, moto: &Emulator) -> aws_sdk_lambda::Client {
        let config = aws_sdk_lambda::config::Builder::from(&moto.sdk_config().await)
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_lambda::Client::from_conf(config)
    }

    /// Encrypts `stream` with the KMS key `key_id` (StartStreamEncryption through the layer, so
    /// the layer knows the stream's key, as DescribeStreamSummary then reports it).
    pub async fn encrypt(&self, moto: &Emulator, stream: &str, key_id: &str) {
        let config = aws_sdk_kinesis::config::Builder::from(&moto.sdk_config().await)
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_kinesis::Client::from_conf(config)
            .start_stream_encryption()
            .stream_name(stream)
            .encryption_type(aws_sdk_kinesis::types::EncryptionType::Kms)
            .key_id(key_id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("StartStreamEncryption on {stream}: {e:?}"));
    }

    /// From now on the caller may not use the KMS key `key_id` (as a stream reports it): GetRecords
    /// on a stream it encrypts fails with `error_type` (`KMSAccessDeniedException`,
    /// `KMSDisabledException`, …).
    pub fn refuse_kms(&self, key_id: &str, error_type: &str) {
        self.layer
            .lock()
            .kms_refused
            .insert(key_id.to_owned(), error_type.to_owned());
    }

    /// How many calls of `operation` reached the layer (answered by it or forwarded).
    pub fn calls(&self, operation: &str) -> usize {
        self.layer.lock().calls.get(operation).copied().unwrap_or(0)
    }

    /// How many calls the layer refused with `error_type`, all operations together.
    pub fn refused(&self, error_type: &str) -> usize {
        self.layer
            .lock()
            .refused
            .get(error_type)
            .copied()
            .unwrap_or(0)
    }
}

struct Layer {
    settings: Settings,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Role name -> when it was created.
    role_created: HashMap<String, Instant>,
    /// Role name -> when its inline policy last changed.
    policy_changed: HashMap<String, Instant>,
    /// Function name -> its role's name.
    function_roles: HashMap<String, String>,
    /// Function name -> until when it is Pending.
    pending_until: HashMap<String, Instant>,
    /// Function name -> until when its last update is InProgress.
    updating_until: HashMap<String, Instant>,
    /// Mapping UUID -> its transitional state and until when.
    mapping_transition: HashMap<String, (&'static str, Instant)>,
    /// Deleted mappings still listed as Deleting: UUID -> (configuration, until when).
    deleting: HashMap<String, (Value, Instant)>,
    /// Mapping UUID -> the LastProcessingResult it reports.
    processing_results: HashMap<String, String>,
    /// Stream name -> the KMS key it is encrypted with (from StartStreamEncryption).
    stream_keys: HashMap<String, String>,
    /// KMS key -> the error GetRecords meets on the streams it encrypts.
    kms_refused: HashMap<String, String>,
    /// Shard iterator -> the stream it reads.
    iterators: HashMap<String, String>,
    /// Consumer ARN -> until when it is CREATING.
    consumer_creating: HashMap<String, Instant>,
    /// Mapping UUID -> the consumer ARN it reads through (moto holds the consumer's stream).
    mapping_consumers: HashMap<String, String>,
    faults: Vec<Fault>,
    calls: HashMap<String, usize>,
    refused: HashMap<String, usize>,
}

struct Fault {
    operation: String,
    left: usize,
    status: u16,
    body: String,
}

/// A Lambda or IAM operation, read from the method and path (Lambda's REST protocol) or the form
/// body's `Action` (IAM's query protocol), with the resource the path names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Op {
    name: &'static str,
    /// The function name or mapping UUID in the path, if any.
    resource: Option<String>,
    /// The query string, if any.
    query: String,
}

fn classify(call: &Call<'_>) -> Option<Op> {
    if !call.operation.is_empty() {
        return None;
    }
    let (path, query) = call.path.split_once('?').unwrap_or((call.path, ""));
    let op = |name, resource: Option<&str>| {
        Some(Op {
            name,
            resource: resource.map(percent_decode),
            query: query.to_owned(),
        })
    };
    if let Some(rest) = path.strip_prefix("/2015-03-31/functions") {
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        return match (call.method, parts.as_slice()) {
            ("POST", []) => op("CreateFunction", None),
            ("GET", []) => op("ListFunctions", None),
            ("GET", [name]) => op("GetFunction", Some(name)),
            ("DELETE", [name]) => op("DeleteFunction", Some(name)),
            ("GET", [name, "configuration"]) => op("GetFunctionConfiguration", Some(name)),
            ("PUT", [name, "configuration"]) => op("UpdateFunctionConfiguration", Some(name)),
            ("PUT", [name, "code"]) => op("UpdateFunctionCode", Some(name)),
            _ => None,
        };
    }
    if let Some(arn) = path.strip_prefix("/2017-03-31/tags/") {
        return match call.method {
            "GET" => op("ListTags", Some(arn)),
            "POST" => op("TagResource", Some(arn)),
            "DELETE" => op("UntagResource", Some(arn)),
            _ => None,
        };
    }
    if let Some(rest) = path.strip_prefix("/2015-03-31/event-source-mappings") {
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        return match (call.method, parts.as_slice()) {
            ("POST", []) => op("CreateEventSourceMapping", None),
            ("GET", []) => op("ListEventSourceMappings", None),
            ("GET", [uuid]) => op("GetEventSourceMapping", Some(uuid)),
            ("PUT", [uuid]) => op("UpdateEventSourceMapping", Some(uuid)),
            ("DELETE", [uuid]) => op("DeleteEventSourceMapping", Some(uuid)),
            _ => None,
        };
    }
    let form = String::from_utf8_lossy(call.body);
    let action = form_value(&form, "Action")?;
    let name = match action.as_str() {
        "CreateRole" => "CreateRole",
        "PutRolePolicy" => "PutRolePolicy",
        "DeleteRole" => "DeleteRole",
        _ => return None,
    };
    Some(Op {
        name,
        resource: form_value(&form, "RoleName"),
        query: String::new(),
    })
}

impl Layer {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Intercept for Layer {
    fn request(&self, _operation: &str, _body: &[u8]) -> Option<(u16, String)> {
        None
    }

    fn call(&self, call: &Call<'_>) -> Option<(u16, String)> {
        if call.operation == "GetRecords" {
            return self.get_records(call.body);
        }
        if !call.operation.is_empty() {
            return self.kinesis_fault(call.operation);
        }
        let op = classify(call)?;
        let now = Instant::now();
        let mut state = self.lock();
        *state.calls.entry(op.name.to_owned()).or_default() += 1;
        let answer = self.answer(&mut state, &op, call.body, now)?;
        if answer.0 >= 400 {
            let kind = serde_json::from_str::<Value>(&answer.1)
                .ok()
                .and_then(|v| v["__type"].as_str().map(str::to_owned))
                .unwrap_or_default();
            *state.refused.entry(kind).or_default() += 1;
        }
        Some(answer)
    }

    fn wants_call_response(&self, call: &Call<'_>) -> bool {
        matches!(call.operation, "StartStreamEncryption" | "GetShardIterator")
            || CONSUMER_OPERATIONS.contains(&call.operation)
            || classify(call).is_some()
    }

    fn rewrite_request(&self, call: &Call<'_>) -> Option<Vec<u8>> {
        let op = classify(call)?;
        if op.name != "CreateEventSourceMapping" {
            return None;
        }
        let mut request: Value = serde_json::from_slice(call.body).ok()?;
        let stream = consumer_stream(request["EventSourceArn"].as_str()?)?;
        request["EventSourceArn"] = json!(stream);
        Some(request.to_string().into_bytes())
    }

    fn call_response(&self, call: &Call<'_>, status: u16, body: &[u8]) -> Option<Vec<u8>> {
        if !(200..300).contains(&status) {
            return None;
        }
        if matches!(call.operation, "StartStreamEncryption" | "GetShardIterator") {
            self.kinesis_response(call, body);
            return None;
        }
        if CONSUMER_OPERATIONS.contains(&call.operation) {
            return self.consumer_response(call.operation, body);
        }
        let op = classify(call)?;
        let now = Instant::now();
        let mut state = self.lock();
        let s = self.settings;
        let request: Value = serde_json::from_slice(call.body).unwrap_or(Value::Null);
        match op.name {
            "CreateRole" => {
                let name = op.resource?;
                state.role_created.insert(name.clone(), now);
                state.policy_changed.insert(name, now);
                None
            }
            "PutRolePolicy" => {
                state.policy_changed.insert(op.resource?, now);
                None
            }
            "DeleteRole" => {
                let name = op.resource?;
                state.role_created.remove(&name);
                state.policy_changed.remove(&name);
                None
            }
            "DeleteFunction" => {
                let name = function_name(&op.resource?).to_owned();
                state.pending_until.remove(&name);
                state.updating_until.remove(&name);
                None
            }
            _ => {
                let mut response: Value = serde_json::from_slice(body).ok()?;
                match op.name {
                    "CreateFunction" => {
                        let name = request["FunctionName"].as_str()?.to_owned();
                        if let Some(role) = request["Role"].as_str() {
                            state
                                .function_roles
                                .insert(name.clone(), role_name(role).to_owned());
                        }
                        state.pending_until.insert(name, now + s.function_pending);
                        state.function_view(&mut response, now);
                    }
                    "UpdateFunctionConfiguration" | "UpdateFunctionCode" => {
                        let name = function_name(&op.resource?).to_owned();
                        if let Some(role) = request["Role"].as_str() {
                            state
                                .function_roles
                                .insert(name.clone(), role_name(role).to_owned());
                        }
                        state
                            .updating_until
                            .insert(name, now + s.update_in_progress);
                        state.function_view(&mut response, now);
                    }
                    "GetFunction" => state.function_view(&mut response["Configuration"], now),
                    "GetFunctionConfiguration" => state.function_view(&mut response, now),
                    "ListFunctions" => {
                        if let Some(list) = response["Functions"].as_array_mut() {
                            for f in list {
                                state.function_view(f, now);
                            }
                        }
                    }
                    "CreateEventSourceMapping" => {
                        let uuid = response["UUID"].as_str()?.to_owned();
                        if let Some(consumer) = request["EventSourceArn"]
                            .as_str()
                            .filter(|arn| consumer_stream(arn).is_some())
                        {
                            state
                                .mapping_consumers
                                .insert(uuid.clone(), consumer.to_owned());
                        }
                        state
                            .mapping_transition
                            .insert(uuid, ("Creating", now + s.mapping_transition));
                        state.mapping_view(&mut response, now);
                    }
                    "UpdateEventSourceMapping" => {
                        state
                            .mapping_transition
                            .insert(op.resource?, ("Updating", now + s.mapping_transition));
                        state.mapping_view(&mut response, now);
                    }
                    "DeleteEventSourceMapping" => {
                        let uuid = op.resource?;
                        state.mapping_transition.remove(&uuid);
                        state.mapping_view(&mut response, now);
                        response["State"] = json!("Deleting");
                        state
                            .deleting
                            .insert(uuid, (response.clone(), now + s.mapping_transition));
                    }
                    "GetEventSourceMapping" => state.mapping_view(&mut response, now),
                    "ListEventSourceMappings" => {
                        let function = query_value(&op.query, "FunctionName");
                        let source = query_value(&op.query, "EventSourceArn");
                        if let Some(list) = response["EventSourceMappings"].as_array_mut() {
                            for m in list.iter_mut() {
                                state.mapping_view(m, now);
                            }
                            // Deleted mappings are listed until they are gone.
                            state.deleting.retain(|_, (_, until)| *until > now);
                            for (ghost, _) in state.deleting.values() {
                                let function_matches = function.as_deref().is_none_or(|f| {
                                    ghost["FunctionArn"]
                                        .as_str()
                                        .is_some_and(|arn| function_name(arn) == function_name(f))
                                });
                                let source_matches = source
                                    .as_deref()
                                    .is_none_or(|s| ghost["EventSourceArn"].as_str() == Some(s));
                                if function_matches && source_matches {
                                    list.push(ghost.clone());
                                }
                            }
                        }
                    }
                    _ => return None,
                }
                Some(response.to_string().into_bytes())
            }
        }
    }
}

/// The Kinesis operations whose answers show a consumer's status.
const CONSUMER_OPERATIONS: [&str; 3] = [
    "RegisterStreamConsumer",
    "DescribeStreamConsumer",
    "ListStreamConsumers",
];

/// The stream ARN of a consumer ARN (`…:stream/NAME/consumer/CONSUMER[:TIMESTAMP]`); `None` for
/// anything else.
fn consumer_stream(arn: &str) -> Option<&str> {
    let (stream, _) = arn.split_once("/consumer/")?;
    stream.contains(":stream/").then_some(stream)
}

impl Layer {
    /// A fault [`Realism::fail`] set for this Kinesis operation, if any is left.
    fn kinesis_fault(&self, operation: &str) -> Option<(u16, String)> {
        let mut state = self.lock();
        *state.calls.entry(operation.to_owned()).or_default() += 1;
        let fault = state
            .faults
            .iter_mut()
            .find(|f| f.operation == operation && f.left > 0)?;
        fault.left -= 1;
        let answer = (fault.status, fault.body.clone());
        let kind = serde_json::from_str::<Value>(&answer.1)
            .ok()
            .and_then(|v| v["__type"].as_str().map(str::to_owned))
            .unwrap_or_default();
        *state.refused.entry(kind).or_default() += 1;
        Some(answer)
    }

    /// A consumer as Kinesis shows it: CREATING for a while after RegisterStreamConsumer.
    fn consumer_response(&self, operation: &str, body: &[u8]) -> Option<Vec<u8>> {
        let mut response: Value = serde_json::from_slice(body).ok()?;
        let now = Instant::now();
        let mut state = self.lock();
        let view = |consumer: &mut Value, state: &mut State| {
            let Some(arn) = consumer["ConsumerARN"].as_str().map(str::to_owned) else {
                return;
            };
            if operation == "RegisterStreamConsumer" {
                state
                    .consumer_creating
                    .insert(arn.clone(), now + self.settings.consumer_creating);
            }
            if state.consumer_creating.get(&arn).is_some_and(|t| now < *t) {
                consumer["ConsumerStatus"] = json!("CREATING");
            }
        };
        match operation {
            "RegisterStreamConsumer" => view(&mut response["Consumer"], &mut state),
            "DescribeStreamConsumer" => view(&mut response["ConsumerDescription"], &mut state),
            _ => {
                if let Some(list) = response["Consumers"].as_array_mut() {
                    for c in list {
                        view(c, &mut state);
                    }
                }
            }
        }
        Some(response.to_string().into_bytes())
    }

    /// GetRecords on an iterator of a stream whose key the caller may not use: Kinesis's error.
    fn get_records(&self, body: &[u8]) -> Option<(u16, String)> {
        let request: Value = serde_json::from_slice(body).ok()?;
        let mut state = self.lock();
        let stream = state
            .iterators
            .get(request["ShardIterator"].as_str()?)?
            .clone();
        let key = state.stream_keys.get(&stream)?;
        let error_type = state.kms_refused.get(key)?.clone();
        *state.calls.entry("GetRecords".to_owned()).or_default() += 1;
        *state.refused.entry(error_type.clone()).or_default() += 1;
        // The message Kinesis sends with KMSAccessDeniedException (the other KMS errors carry
        // KMS's own message); it names neither the key nor the permission.
        let message = format!(
            "User arn:aws:iam::123456789012:user/ktail-tests is not authorized to decrypt records in stream 123456789012:{stream}"
        );
        Some((
            400,
            json!({"__type": error_type, "message": message}).to_string(),
        ))
    }

    /// Learns a stream's key from StartStreamEncryption and an iterator's stream from
    /// GetShardIterator.
    fn kinesis_response(&self, call: &Call<'_>, body: &[u8]) {
        let Ok(request) = serde_json::from_slice::<Value>(call.body) else {
            return;
        };
        let Some(stream) = request["StreamName"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                request["StreamARN"]
                    .as_str()
                    .and_then(|arn| arn.rsplit_once("stream/"))
                    .map(|(_, name)| name.to_owned())
            })
        else {
            return;
        };
        let mut state = self.lock();
        if call.operation == "StartStreamEncryption" {
            if let Some(key) = request["KeyId"].as_str() {
                state.stream_keys.insert(stream, key.to_owned());
            }
        } else if let Some(iterator) = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["ShardIterator"].as_str().map(str::to_owned))
        {
            state.iterators.insert(iterator, stream);
        }
    }

    /// The layer's own answer to a call, if it refuses it or answers for a deleted mapping.
    fn answer(
        &self,
        state: &mut State,
        op: &Op,
        body: &[u8],
        now: Instant,
    ) -> Option<(u16, String)> {
        if let Some(fault) = state
            .faults
            .iter_mut()
            .find(|f| f.operation == op.name && f.left > 0)
        {
            fault.left -= 1;
            return Some((fault.status, fault.body.clone()));
        }
        let s = self.settings;
        let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        state.deleting.retain(|_, (_, until)| *until > now);
        let fresh = |at: Option<&Instant>| at.is_some_and(|at| now < *at + s.iam_propagation);
        match op.name {
            "CreateFunction" => {
                let role = role_name(request["Role"].as_str()?);
                fresh(state.role_created.get(role)).then(|| {
                    (
                        400,
                        error(
                            "InvalidParameterValueException",
                            "The role defined for the function cannot be assumed by Lambda.",
                        ),
                    )
                })
            }
            "UpdateFunctionConfiguration" | "UpdateFunctionCode" => {
                let name = function_name(op.resource.as_deref()?);
                let arn = format!("function:{name}");
                if state.pending_until.get(name).is_some_and(|t| now < *t) {
                    return Some((
                        409,
                        error(
                            "ResourceConflictException",
                            &format!(
                                "The operation cannot be performed at this time. The function is currently in the following state: Pending ({arn})"
                            ),
                        ),
                    ));
                }
                state
                    .updating_until
                    .get(name)
                    .is_some_and(|t| now < *t)
                    .then(|| {
                        (
                            409,
                            error(
                                "ResourceConflictException",
                                &format!(
                                    "The operation cannot be performed at this time. An update is in progress for resource: {arn}"
                                ),
                            ),
                        )
                    })
            }
            "CreateEventSourceMapping" => {
                let function = function_name(request["FunctionName"].as_str()?);
                let source = request["EventSourceArn"].as_str()?;
                if state
                    .consumer_creating
                    .get(source)
                    .is_some_and(|t| now < *t)
                {
                    return Some((
                        400,
                        error(
                            "InvalidParameterValueException",
                            &format!("Stream consumer {source} is not in ACTIVE state."),
                        ),
                    ));
                }
                if let Some((uuid, _)) = state.deleting.iter().find(|(_, (ghost, _))| {
                    ghost["EventSourceArn"].as_str() == Some(source)
                        && ghost["FunctionArn"]
                            .as_str()
                            .is_some_and(|arn| function_name(arn) == function)
                }) {
                    return Some((
                        409,
                        error(
                            "ResourceConflictException",
                            &format!(
                                "An event source mapping with Kinesis arn (\" {source} \") and function (\" {function} \") already exists. Please update or delete the existing mapping with UUID {uuid}"
                            ),
                        ),
                    ));
                }
                let role = state.function_roles.get(function)?;
                fresh(state.policy_changed.get(role)).then(|| {
                    (
                        400,
                        error(
                            "InvalidParameterValueException",
                            &format!(
                                "Cannot access stream {source}. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM."
                            ),
                        ),
                    )
                })
            }
            "UpdateEventSourceMapping" | "DeleteEventSourceMapping" => {
                let uuid = op.resource.as_deref()?;
                let state_now = if state.deleting.contains_key(uuid) {
                    Some("Deleting")
                } else {
                    state
                        .mapping_transition
                        .get(uuid)
                        .filter(|(_, until)| now < *until)
                        .map(|(s, _)| *s)
                }?;
                Some((
                    400,
                    error(
                        "ResourceInUseException",
                        &format!(
                            "Cannot {} the event source mapping because it is in use ({state_now}).",
                            if op.name == "DeleteEventSourceMapping" {
                                "delete"
                            } else {
                                "update"
                            }
                        ),
                    ),
                ))
            }
            "GetEventSourceMapping" => {
                let (ghost, _) = state.deleting.get(op.resource.as_deref()?)?;
                Some((200, ghost.to_string()))
            }
            _ => None,
        }
    }
}

impl State {
    /// A function configuration as Lambda shows it now: Pending after creation, an update
    /// InProgress after a change.
    fn function_view(&self, config: &mut Value, now: Instant) {
        let Some(name) = config["FunctionName"].as_str().map(str::to_owned) else {
            return;
        };
        if self.pending_until.get(&name).is_some_and(|t| now < *t) {
            config["State"] = json!("Pending");
            config["StateReason"] = json!("The function is being created.");
            config["StateReasonCode"] = json!("Creating");
            if let Some(c) = config.as_object_mut() {
                c.remove("LastUpdateStatus");
            }
        } else if self.updating_until.get(&name).is_some_and(|t| now < *t) {
            config["State"] = json!("Active");
            config["LastUpdateStatus"] = json!("InProgress");
            config["LastUpdateStatusReason"] = json!("The function is being updated.");
            config["LastUpdateStatusReasonCode"] = json!("InProgress");
        } else {
            config["State"] = json!("Active");
            config["LastUpdateStatus"] = json!("Successful");
        }
    }

    /// A mapping as Lambda shows it now: Creating or Updating for a while after those calls.
    fn mapping_view(&self, mapping: &mut Value, now: Instant) {
        let Some(uuid) = mapping["UUID"].as_str().map(str::to_owned) else {
            return;
        };
        if let Some(result) = self.processing_results.get(&uuid) {
            mapping["LastProcessingResult"] = json!(result);
        }
        if let Some(consumer) = self.mapping_consumers.get(&uuid) {
            mapping["EventSourceArn"] = json!(consumer);
        }
        if let Some((transition, until)) = self.mapping_transition.get(&uuid)
            && now < *until
        {
            mapping["State"] = json!(transition);
        }
    }
}

/// A Lambda error body (REST-JSON: the type in `__type`).
fn error(error_type: &str, message: &str) -> String {
    json!({"__type": error_type, "Type": "User", "message": message}).to_string()
}

/// The role name in a role ARN.
fn role_name(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, name)| name)
}

/// The function name in a name, ARN or partial ARN.
fn function_name(name_or_arn: &str) -> &str {
    match name_or_arn.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => name_or_arn,
    }
}

fn form_value(form: &str, key: &str) -> Option<String> {
    form.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(&v.replace('+', " ")))
    })
}

fn query_value(query: &str, key: &str) -> Option<String> {
    form_value(query, key)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(method: &'a str, path: &'a str, body: &'a [u8]) -> Call<'a> {
        Call {
            method,
            path,
            operation: "",
            body,
        }
    }

    #[test]
    fn operations_are_read_from_paths_and_forms() {
        let name = |c: Call<'_>| classify(&c).map(|op| (op.name, op.resource));
        assert_eq!(
            name(call("POST", "/2015-03-31/functions", b"{}")),
            Some(("CreateFunction", None))
        );
        assert_eq!(
            name(call(
                "PUT",
                "/2015-03-31/functions/f%3A1/configuration",
                b""
            )),
            Some(("UpdateFunctionConfiguration", Some("f:1".into())))
        );
        assert_eq!(
            name(call(
                "GET",
                "/2015-03-31/event-source-mappings/?FunctionName=f",
                b""
            )),
            Some(("ListEventSourceMappings", None))
        );
        assert_eq!(
            name(call("DELETE", "/2015-03-31/event-source-mappings/u-1", b"")),
            Some(("DeleteEventSourceMapping", Some("u-1".into())))
        );
        assert_eq!(
            name(call("POST", "/", b"Action=CreateRole&RoleName=r&Version=1")),
            Some(("CreateRole", Some("r".into())))
        );
        assert_eq!(name(call("POST", "/", b"Action=GetRole&RoleName=r")), None);
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:f:$LATEST"),
            "f"
        );
    }
}
